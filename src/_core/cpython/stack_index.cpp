// stack_index.cpp — the report's view of the frame tree (see stack_index.h).
#include "cpython/stack_index.h"

#include <string>
#include <unordered_map>

#include "cpython/frames.h"
#include "cpython/tracker.h"

namespace memslim::cpython {

namespace {

std::string_view utf8(PyObject* text) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &size) : nullptr;
    if (data == nullptr) {
        PyErr_Clear();
        return {};
    }
    return {data, static_cast<std::size_t>(size)};
}

std::uint64_t pair_key(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::uint64_t>(a) << 32 | b;
}

// Per code object, computed once: its function (file and qualified name) and whether it is
// memslim's own.
struct CodeFacts {
    std::uint32_t function;
    bool own;
};

}  // namespace

StackIndex build_stack_index(std::string_view own_prefix) {
    StackIndex index;
    std::vector<engine::Frame> node_frames;
    copy_frame_tree(&node_frames, &index.node_parent);
    const std::size_t n = node_frames.size();
    index.node_frame.assign(n, StackIndex::kNone);
    index.node_user.assign(n, 0);
    index.user_parent.push_back(0);
    index.user_frame.push_back(StackIndex::kNone);

    std::unordered_map<std::uintptr_t, CodeFacts> codes;
    std::unordered_map<std::string, std::uint32_t> functions;  // "file\0qualname"
    std::unordered_map<std::uint64_t, std::uint32_t> printed;  // (function, line) -> frame
    std::unordered_map<std::uint64_t, std::uint32_t> users;    // (parent user, frame) -> user
    for (engine::NodeId node = 1; node < n; ++node) {
        const engine::Frame& frame = node_frames[node];
        auto* code = reinterpret_cast<PyCodeObject*>(frame.code);
        auto [facts, fresh_code] = codes.try_emplace(frame.code);
        if (fresh_code) {
            const std::string_view file = utf8(code->co_filename);
            std::string key(file);
            key.push_back('\0');
            key.append(utf8(code->co_qualname));
            auto [fn, unused] = functions.try_emplace(std::move(key), functions.size());
            facts->second = {fn->second, file.starts_with(own_prefix)};
        }
        const int line = line_of(code, frame.instruction);
        const auto [printed_at, fresh_frame] = printed.try_emplace(
            pair_key(facts->second.function, static_cast<std::uint32_t>(line)),
            static_cast<std::uint32_t>(index.frames.size()));
        if (fresh_frame) index.frames.push_back({reinterpret_cast<PyObject*>(code), line});
        const std::uint32_t frame_id = printed_at->second;
        index.node_frame[node] = frame_id;
        if (facts->second.own) continue;  // the user stack ends below memslim's own frames
        const std::uint32_t parent_user = index.node_user[index.node_parent[node]];
        auto [user, fresh_user] = users.try_emplace(
            pair_key(parent_user, frame_id), static_cast<std::uint32_t>(index.user_parent.size()));
        if (fresh_user) {
            index.user_parent.push_back(parent_user);
            index.user_frame.push_back(frame_id);
        }
        index.node_user[node] = user->second;
    }
    return index;
}

}  // namespace memslim::cpython
