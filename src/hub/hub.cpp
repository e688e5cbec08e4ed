#include "hub/hub.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace pgpulse::hub {

std::uint8_t Subscription::op_bit(Op op) {
  switch (op) {
    case Op::kInsert:
      return 1;
    case Op::kUpdate:
      return 2;
    case Op::kDelete:
      return 4;
    case Op::kTruncate:
      return 8;
  }
  return 0;
}

bool Subscription::wants(const EventRecord& event) const {
  if (!(ops & op_bit(event.op))) return false;
  // TRUNCATE has no row: a filtered subscription still learns that its rows are gone.
  if (event.op == Op::kTruncate || filter.empty()) return true;
  return filter.matches(event.filter_row());
}

void LoopHub::add(Subscription* sub) {
  by_table_[sub->table].push_back(sub);
  sub->registered = true;
  ++count_;
}

void LoopHub::remove(Subscription* sub) {
  auto it = by_table_.find(sub->table);
  if (it == by_table_.end()) return;
  auto& subs = it->second;
  auto found = std::find(subs.begin(), subs.end(), sub);
  if (found == subs.end()) return;
  *found = subs.back();  // order among subscriptions does not matter
  subs.pop_back();
  sub->registered = false;
  --count_;
  if (subs.empty()) by_table_.erase(it);
}

void LoopHub::dispatch(const SharedEvent& event) const {
  auto it = by_table_.find(event->table);
  if (it == by_table_.end()) return;
  // A subscriber may detach subscriptions (its own or another's) while we deliver: iterate
  // over a copy, skipping what was detached meanwhile. (A session destroys a subscription
  // only after the dispatch: its close() posts that.)
  auto subs = it->second;
  for (auto* sub : subs) {
    if (sub->registered && after(event->id, sub->live_after) && sub->wants(*event)) {
      sub->subscriber->deliver(*sub, event);
    }
  }
}

Hub::Hub(std::vector<boost::asio::io_context*> loops, RingLimits limits) : limits_(limits) {
  for (auto* io : loops) loops_.push_back(Loop{io, {}});
}

void Hub::set_base(const Cursor& start) {
  std::lock_guard lock(mutex_);
  // Events published before this call all came after `start`; a base already moved further by
  // evictions stays.
  if (after(start, base_)) base_ = start;
}

void Hub::publish(const ChangeEvent& event) {
  auto record = make_record(event);
  std::lock_guard lock(mutex_);
  ring_.push_back(record);
  ring_bytes_ += record->json.size();
  while (ring_.size() > limits_.max_events || ring_bytes_ > limits_.max_bytes) {
    base_ = ring_.front()->id;
    ring_bytes_ -= ring_.front()->json.size();
    ring_.pop_front();
  }
  // Posted under the lock: every loop sees events in ring order, and an attach() that saw the
  // ring without this event is registered before this dispatch runs.
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    boost::asio::post(*loops_[i].io, [this, i, record] { loops_[i].hub.dispatch(record); });
  }
}

bool Hub::attach(std::size_t loop, Subscription& sub, const Cursor& from,
                 std::vector<SharedEvent>& replay) {
  std::lock_guard lock(mutex_);
  if (after(base_, from)) return false;  // the ring starts after `from`: changes are missing
  for (const auto& event : ring_) {
    if (after(event->id, from) && event->table == sub.table && sub.wants(*event)) {
      replay.push_back(event);
    }
  }
  sub.live_after = ring_.empty() ? base_ : ring_.back()->id;
  if (after(from, sub.live_after)) sub.live_after = from;
  loops_[loop].hub.add(&sub);
  return true;
}

void Hub::attach_now(std::size_t loop, Subscription& sub) {
  std::lock_guard lock(mutex_);
  sub.live_after = ring_.empty() ? base_ : ring_.back()->id;
  loops_[loop].hub.add(&sub);
}

Cursor Hub::head() const {
  std::lock_guard lock(mutex_);
  return ring_.empty() ? base_ : ring_.back()->id;
}

std::size_t Hub::ring_events() const {
  std::lock_guard lock(mutex_);
  return ring_.size();
}

}  // namespace pgpulse::hub
