#include "amodal/amodal_match.hpp"

#include <algorithm>
#include <limits>

namespace fastpq {

void AmodalCounts::add(const AmodalCounts& other) {
  for (std::size_t i = 0; i < matched.size(); ++i) matched[i] += other.matched[i];
  for (std::size_t i = 0; i < regions.size(); ++i) regions[i] += other.regions[i];
}

bool amodal_region_counts(const AmodalRegion& region, std::size_t setting) {
  const std::size_t kind = setting / kAmodalOcclusions, occlusion = setting % kAmodalOcclusions;
  if ((kind == 1 && region.is_stuff) || (kind == 2 && !region.is_stuff)) return false;
  const double r = region.occlude_rate;
  // amodalAPI's occRng filters are closed intervals (a region at a bound is in both neighbours),
  // "all" included: [0, 1], so a rate below 0 or above 1 is ignored in every setting.
  switch (occlusion) {
    case 1: return r >= 0 && r <= 1e-5;
    case 2: return r >= 1e-5 && r <= 0.25;
    case 3: return r >= 0.25 && r <= 1;
    default: return r >= 0 && r <= 1;
  }
}

void match_amodal_image(const double* ious, std::size_t proposals, const std::vector<AmodalRegion>& regions,
                        const double* thresholds, AmodalCounts& out) {
  const std::size_t g = regions.size();
  // A region below the lowest threshold never matches: each proposal keeps only its candidates,
  // in JSON order, so the scans below are as long as the overlaps, not as the region list.
  const double lowest = std::min(*std::min_element(thresholds, thresholds + kAmodalThresholds), 1 - 1e-10);
  std::vector<std::size_t> candidates, first(proposals + 1, 0);
  for (std::size_t d = 0; d < proposals; ++d) {
    for (std::size_t r = 0; r < g; ++r)
      if (ious[d * g + r] >= lowest) candidates.push_back(r);
    first[d + 1] = candidates.size();
  }
  std::vector<char> ignored(g);
  std::vector<std::size_t> matched_by(g);  // rank of the proposal that took the region
  constexpr std::size_t kFree = std::numeric_limits<std::size_t>::max();
  for (std::size_t s = 0; s < kAmodalSettings; ++s) {
    std::int64_t counted = 0;
    for (std::size_t r = 0; r < g; ++r) {
      ignored[r] = !amodal_region_counts(regions[r], s);
      counted += !ignored[r];
    }
    out.regions[s] += counted;
    if (counted == 0) continue;  // nothing to find; matches to ignored regions count for nothing
    for (std::size_t t = 0; t < kAmodalThresholds; ++t) {
      std::fill(matched_by.begin(), matched_by.end(), kFree);
      for (std::size_t d = 0; d < proposals; ++d) {
        // COCOeval scans the counted regions, then the ignored ones, each in JSON order, for the
        // best free IoU >= the threshold (later regions winning ties), and stops at the first
        // ignored region once it holds a counted one.
        double best = std::min(thresholds[t], 1 - 1e-10);
        std::ptrdiff_t m = -1;
        const double* row = ious + d * g;
        for (std::size_t i = first[d]; i < first[d + 1]; ++i) {
          const std::size_t r = candidates[i];
          if (ignored[r] || matched_by[r] != kFree || row[r] < best) continue;
          best = row[r];
          m = static_cast<std::ptrdiff_t>(r);
        }
        if (m < 0) {
          for (std::size_t i = first[d]; i < first[d + 1]; ++i) {
            const std::size_t r = candidates[i];
            if (!ignored[r] || matched_by[r] != kFree || row[r] < best) continue;
            best = row[r];
            m = static_cast<std::ptrdiff_t>(r);
          }
        }
        if (m >= 0) matched_by[m] = d;
      }
      for (std::size_t r = 0; r < g; ++r) {
        if (ignored[r] || matched_by[r] == kFree) continue;
        for (std::size_t k = 0; k < kAmodalMaxDets; ++k)
          if (matched_by[r] < kAmodalDetLimits[k]) ++out.at(s, t, k);
      }
    }
  }
}

}  // namespace fastpq
