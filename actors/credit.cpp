// Credit splitting and recovery.
#include "actors/credit.hpp"

#include <algorithm>

namespace e3::rt {

void split_credit(std::uint64_t credit, std::size_t n, std::vector<std::uint64_t>& out) {
  out.clear();
  if (n == 0)
    return;
  std::uint64_t base = credit / n, rest = credit % n;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(base + (i < rest ? 1 : 0));
}

void completion_tracker::sent(std::uint64_t id, std::int64_t sent_ns) {
  open_[id] = {sent_ns, sent_ns, 0, false, false, false};
}

std::optional<completion_tracker::done> completion_tracker::completed(std::uint64_t id, std::uint64_t credit,
                                                                      std::int64_t done_ns, bool error, bool replied,
                                                                      bool lost) {
  auto it = open_.find(id);
  if (it == open_.end()) {
    ++strays_;
    return std::nullopt;
  }
  auto& r = it->second;
  if (credit > full_credit - r.credit) {
    ++overflows_;
    credit = full_credit - r.credit;
  }
  r.credit += credit;
  r.last_ns = std::max(r.last_ns, done_ns);
  r.error |= error;
  r.replied |= replied;
  r.lost |= lost;
  if (r.credit < full_credit)
    return std::nullopt;
  done d{id, r.last_ns - r.sent_ns, r.error, r.replied, r.lost};
  open_.erase(it);
  return d;
}

std::size_t completion_tracker::expire(std::int64_t before_ns) {
  std::size_t n = 0;
  for (auto it = open_.begin(); it != open_.end();) {
    if (it->second.sent_ns < before_ns) {
      it = open_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  lost_ += n;
  return n;
}

}  // namespace e3::rt
