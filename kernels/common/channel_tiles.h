// How many channel groups (packs of kVec channels) one block takes when a kernel tiles the channel
// axis of an NHWC map: shared by the depthwise conv and the global average pool. Plain C++.
#pragma once

namespace mvit {

// For fewer than 8 groups the next power of two (every group of the map in one block); otherwise
// max_groups, max_groups / 2, ... down to 8, whichever leaves the fewest idle groups in the last
// tile, ties to the larger (C = 640 f16: 80 groups, 16 per block, none idle; 32 would idle 16).
// max_groups: a power of two >= 8.
inline int channel_tile_groups(int groups, int max_groups) {
  if (groups < 8) {
    int t = 1;
    while (t < groups) t *= 2;
    return t;
  }
  int best = max_groups, best_idle = max_groups;
  for (int t = max_groups; t >= 8; t /= 2) {
    const int idle = (groups + t - 1) / t * t - groups;
    if (idle < best_idle) best = t, best_idle = idle;
  }
  return best;
}

}  // namespace mvit
