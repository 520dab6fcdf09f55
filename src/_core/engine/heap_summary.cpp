#include "engine/heap_summary.h"

namespace memslim::engine {

std::vector<TypeTotals> type_totals(std::span<const std::uint32_t> node_type,
                                    std::span<const std::uint64_t> node_size,
                                    const DominatorTree& tree, std::size_t types,
                                    std::uint32_t no_type) {
    std::vector<TypeTotals> totals(types);
    for (std::size_t node = 1; node < node_type.size(); ++node) {
        const std::uint32_t t = node_type[node];
        if (t == no_type || t >= types) continue;
        TypeTotals& row = totals[t];
        row.count += 1;
        row.bytes += node_size[node];
        const NodeId up = tree.idom[node];
        const bool top = up == 0 || up == kNoNode || node_type[up] != t;
        if (top) row.retained += tree.retained[node];
        row.largest = std::max(row.largest, tree.retained[node]);
    }
    return totals;
}

}  // namespace memslim::engine
