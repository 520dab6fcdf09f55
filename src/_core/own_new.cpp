// own_new.cpp — memslim's own C++ allocations go straight to the C allocator.
//
// While native allocations are traced, malloc is hooked in every loaded object but this one
// (cpython/native_hooks.h), libstdc++ included: its operator new would hand memslim's own
// tables (the frame tree, block maps, a census's arrays, nanobind's objects) to the hooks, to
// be charged to the program. These definitions replace operator new and delete for this module
// only: the module is linked with -Bsymbolic-functions, so its own calls bind to them, and
// Python loads extension modules with RTLD_LOCAL, so no other object sees them. Blocks they make
// may still be freed by libstdc++'s operator delete (a std::thread's state), which calls free()
// as these do.
//
// Not in a sanitized build (MEMSLIM_SANITIZE): AddressSanitizer supplies operator new itself
// and reports a block made by its operator new (in libstdc++) and freed here with free().
#if !defined(MEMSLIM_SANITIZED)
#include <cstdlib>
#include <new>

namespace {

void* allocate(std::size_t size) {
    if (size == 0) size = 1;
    void* ptr = std::malloc(size);
    if (ptr == nullptr) throw std::bad_alloc();
    return ptr;
}

void* allocate_aligned(std::size_t size, std::align_val_t alignment) {
    const auto align = static_cast<std::size_t>(alignment);
    const std::size_t rounded = (size + align - 1) / align * align;  // aligned_alloc's rule
    void* ptr = std::aligned_alloc(align, rounded == 0 ? align : rounded);
    if (ptr == nullptr) throw std::bad_alloc();
    return ptr;
}

}  // namespace

void* operator new(std::size_t size) {
    return allocate(size);
}
void* operator new[](std::size_t size) {
    return allocate(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    return std::malloc(size == 0 ? 1 : size);
}
void* operator new(std::size_t size, std::align_val_t alignment) {
    return allocate_aligned(size, alignment);
}
void* operator new[](std::size_t size, std::align_val_t alignment) {
    return allocate_aligned(size, alignment);
}
void operator delete(void* ptr) noexcept {
    std::free(ptr);
}
void operator delete[](void* ptr) noexcept {
    std::free(ptr);
}
void operator delete(void* ptr, std::size_t) noexcept {
    std::free(ptr);
}
void operator delete[](void* ptr, std::size_t) noexcept {
    std::free(ptr);
}
void operator delete(void* ptr, std::align_val_t) noexcept {
    std::free(ptr);
}
void operator delete[](void* ptr, std::align_val_t) noexcept {
    std::free(ptr);
}
void operator delete(void* ptr, std::size_t, std::align_val_t) noexcept {
    std::free(ptr);
}
void operator delete[](void* ptr, std::size_t, std::align_val_t) noexcept {
    std::free(ptr);
}

#endif  // !MEMSLIM_SANITIZED
