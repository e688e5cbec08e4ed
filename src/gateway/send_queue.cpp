#include "gateway/send_queue.hpp"

#include <algorithm>

namespace pgpulse::gateway {

SendQueue::Offer SendQueue::offer(const hub::Subscription& sub, hub::SharedEvent event, bool live) {
  auto size = event->json.size();
  if (backlog_.empty() && has_room(size)) {
    push(sub, std::move(event));
    return Offer::kQueued;
  }
  // Only live events judge a client slow: a replay or a catch-up is paced by its reading.
  if (live && backlog_bytes_ + size > kBacklogFactor * max_bytes_) return Offer::kTooSlow;
  backlog_bytes_ += size;
  backlog_.emplace_back(&sub, std::move(event));
  return Offer::kBacklogged;
}

bool SendQueue::push_control(std::string framed) {
  if (queued_bytes_ > kBacklogFactor * max_bytes_) return false;
  queued_bytes_ += framed.size();
  queue_.push_back(Queued{nullptr, nullptr});
  control_.push_back(std::move(framed));
  return true;
}

void SendQueue::push(const hub::Subscription& sub, hub::SharedEvent event) {
  queued_bytes_ += event->json.size();
  queue_.push_back(Queued{&sub, std::move(event)});
}

void SendQueue::wrote() {
  queued_bytes_ -= write_buffer_.size();
  write_buffer_.clear();
  while (!backlog_.empty() && has_room(backlog_.front().second->json.size())) {
    auto [sub, event] = std::move(backlog_.front());
    backlog_.pop_front();
    backlog_bytes_ -= event->json.size();
    push(*sub, std::move(event));
  }
  // A client that caught up gives its write buffer back: ten thousand quiet clients must not
  // each keep the 64 KiB of their last burst. One that is behind keeps it for the next write.
  if (queue_.empty() && write_buffer_.capacity() > kKeepBufferBytes) {
    std::string().swap(write_buffer_);
  }
}

void SendQueue::remove(const hub::Subscription& sub) {
  std::erase_if(backlog_, [&](const auto& item) {
    if (item.first != &sub) return false;
    backlog_bytes_ -= item.second->json.size();
    return true;
  });
  std::erase_if(queue_, [&](const Queued& item) {
    if (item.sub != &sub) return false;
    queued_bytes_ -= item.event->json.size();
    return true;
  });
}

}  // namespace pgpulse::gateway
