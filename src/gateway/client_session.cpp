#include "gateway/client_session.hpp"

#include <atomic>
#include <boost/asio/post.hpp>

#include "gateway/protocol.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse::gateway {

namespace {

// Each catch-up holds a database connection: cap them, and let the others wait their turn.
constexpr int kMaxConcurrentCatchUps = 16;
std::atomic<int> catch_ups_running{0};
constexpr std::chrono::milliseconds kAttachRetry{100};
// A client may fall this many send queues behind (in a backlog of shared events) before it is
// cut off as too slow.
constexpr std::size_t kBacklogFactor = 8;
// Write buffers up to this size stay with an idle client.
constexpr std::size_t kKeepBufferBytes = 4 * 1024;

}  // namespace

ClientSession::ClientSession(ServerContext& context, std::size_t loop, std::optional<Grant> grant)
    : context_(context),
      loop_(loop),
      grant_(std::move(grant)),
      heartbeat_timer_(context.hub.io(loop)),
      expiry_timer_(context.hub.io(loop)) {
  // The client's place in metrics.clients was taken when its request was admitted (ClientSlot).
}

ClientSession::~ClientSession() {
  drop_subscriptions();
  report_metrics();
  context_.metrics.queued_bytes.fetch_sub(queued_reported_);
  context_.metrics.clients.fetch_sub(1);
}

bool ClientSession::subscribe(const SubscriptionSpec& spec) {
  const auto& id = spec.id;
  if (subscriptions_.contains(id)) {
    send_error(id, "duplicate_subscription", "a subscription with id \"" + id + "\" exists");
    return false;
  }
  if (subscriptions_.size() >= context_.config.max_subscriptions) {
    send_error(id, "too_many_subscriptions",
               "at most " + std::to_string(context_.config.max_subscriptions) +
                   " subscriptions per connection");
    return false;
  }
  auto key = spec.schema + "." + spec.table;
  // The grant first: a token must not learn which tables exist beyond what it may read.
  if (grant_ && !grant_->allows(spec.schema, spec.table)) {
    send_error(id, "forbidden", "the token does not allow reading " + key);
    return false;
  }
  auto columns = context_.catalog.columns(key);
  if (!columns) {
    send_error(id, "unknown_table", "table " + key + " does not exist or is not captured");
    return false;
  }
  auto sub = std::make_unique<hub::Subscription>();
  sub->id = id;
  sub->table_key = key;
  sub->ops = spec.ops;
  sub->columns = spec.columns;
  sub->message_prefix = event_prefix(id);
  sub->subscriber = this;
  try {
    sub->filter = hub::RowFilter::parse(spec.filter);
    if (grant_ && !grant_->filter.empty()) {
      sub->filter = sub->filter & hub::RowFilter::parse(grant_->filter);
    }
  } catch (const Error& e) {
    send_error(id, "invalid_filter", e.what());
    return false;
  }
  auto needed = sub->filter.columns();
  needed.insert(needed.end(), spec.columns.begin(), spec.columns.end());
  for (const auto& column : needed) {
    if (!columns->contains(column)) {
      send_error(id, "unknown_column", "table " + key + " has no column \"" + column + "\"");
      return false;
    }
  }
  std::optional<Cursor> from;
  if (spec.from) {
    try {
      from = Cursor::parse(*spec.from);
    } catch (const InvalidCursor& e) {
      send_error(id, "invalid_cursor", e.what());
      return false;
    }
    if (from->kind() == Cursor::Kind::kNow) from.reset();
  }

  auto& entry = subscriptions_[id];
  entry.sub = std::move(sub);
  context_.metrics.subscriptions.fetch_add(1);
  auto& hub = context_.hub;
  if (!from) {
    hub.attach_now(loop_, *entry.sub);
    entry.attached = true;
    send_subscribed(id, entry.sub->live_after);
    return true;
  }
  std::vector<hub::SharedEvent> replay;
  if (from->kind() == Cursor::Kind::kLog && hub.attach(loop_, *entry.sub, *from, replay)) {
    entry.attached = true;
    send_subscribed(id, *from);
    for (const auto& event : replay) offer(*entry.sub, event, /*live=*/false);
    return true;
  }
  send_subscribed(id, *from);
  start_catch_up(entry, *from);
  return true;
}

void ClientSession::start_catch_up(Entry& entry, const Cursor& from) {
  auto id = entry.sub->id;
  if (!entry.attach_timer) {
    entry.attach_timer = std::make_unique<boost::asio::steady_timer>(context_.hub.io(loop_));
  }
  if (catch_ups_running.fetch_add(1) >= kMaxConcurrentCatchUps) {
    catch_ups_running.fetch_sub(1);
    entry.attach_timer->expires_after(kAttachRetry);
    entry.attach_timer->async_wait([self = self(), this, id, from](boost::system::error_code ec) {
      auto it = subscriptions_.find(id);
      if (!ec && it != subscriptions_.end() && !closing_) start_catch_up(it->second, from);
    });
    return;
  }
  const auto& key = entry.sub->table_key;
  // ConnectOptions named: g++ 12 -O3 warns (maybe-uninitialized, a false positive) otherwise.
  ChangeStreamOptions options{
      .connection = ConnectOptions{.conninfo = context_.config.db},
      .from = from,
      .tables = {TableName{key.substr(0, key.find('.')), key.substr(key.find('.') + 1)}},
      .prune_interval = std::chrono::milliseconds(0)};
  entry.catch_up = std::make_unique<ChangeStream>(context_.hub.io(loop_), std::move(options));
  auto* sub = entry.sub.get();
  entry.catch_up->on_event([this, sub, id](const ChangeEvent& event) {
    auto it = subscriptions_.find(id);
    if (it == subscriptions_.end() || it->second.paused_at) return;  // pausing: drop the rest
    auto record = hub::make_record(event);
    if (sub->wants(*record)) offer(*sub, record, /*live=*/false);
    if (backlog_bytes_ > context_.config.send_queue_bytes) {
      // Far enough ahead of the client: stop reading, and go on from here once it caught up.
      it->second.paused_at = event.id;
      boost::asio::post(context_.hub.io(loop_), [self = self(), this, id] {
        auto paused = subscriptions_.find(id);
        if (paused == subscriptions_.end() || !paused->second.catch_up) return;
        paused->second.catch_up.reset();
        paused->second.attach_timer->cancel();
        catch_ups_running.fetch_sub(1);
      });
    }
  });
  entry.catch_up->on_error([self = self(), this, id](const std::exception_ptr& error) {
    std::string code = "catch_up_failed";
    std::string message = "cannot read the change log";
    try {
      std::rethrow_exception(error);
    } catch (const CursorExpired& e) {
      code = "cursor_expired";
      message = e.what();
    } catch (const std::exception& e) {
      message = e.what();
    }
    send_error(id, code, message);
    // Not from inside the stream's own callback: it is destroyed by unsubscribe().
    boost::asio::post(context_.hub.io(loop_), [self, this, id] { unsubscribe(id); });
  });
  entry.catch_up->start();
  entry.attach_timer->expires_after(kAttachRetry);
  entry.attach_timer->async_wait([self = self(), this, id](boost::system::error_code ec) {
    if (!ec) try_attach(id);
  });
}

void ClientSession::try_attach(const std::string& id) {
  auto it = subscriptions_.find(id);
  if (it == subscriptions_.end() || closing_) return;
  auto& entry = it->second;
  if (!entry.catch_up) return;
  const auto& cursor = entry.catch_up->cursor();
  std::vector<hub::SharedEvent> replay;
  if (cursor.kind() == Cursor::Kind::kLog &&
      context_.hub.attach(loop_, *entry.sub, cursor, replay)) {
    // Same thread as the stream's handler: no event of it can slip in between.
    entry.catch_up.reset();
    catch_ups_running.fetch_sub(1);
    entry.attached = true;
    for (const auto& event : replay) offer(*entry.sub, event, /*live=*/false);
    return;
  }
  entry.attach_timer->expires_after(kAttachRetry);
  entry.attach_timer->async_wait([self = self(), this, id](boost::system::error_code ec) {
    if (!ec) try_attach(id);
  });
}

bool ClientSession::unsubscribe(const std::string& id) {
  auto it = subscriptions_.find(id);
  if (it == subscriptions_.end()) return false;
  auto& entry = it->second;
  if (entry.attached) context_.hub.detach(loop_, *entry.sub);
  if (entry.catch_up) {
    entry.catch_up.reset();
    catch_ups_running.fetch_sub(1);
  }
  if (entry.attach_timer) entry.attach_timer->cancel();
  const auto* sub = entry.sub.get();
  std::erase_if(backlog_, [&](const auto& item) {
    if (item.first != sub) return false;
    backlog_bytes_ -= item.second->json.size();
    return true;
  });
  // Queued events refer to the subscription: none of them may outlive it.
  std::erase_if(queue_, [&](const Queued& item) {
    if (item.sub != sub) return false;
    queued_bytes_ -= item.event->json.size();
    return true;
  });
  subscriptions_.erase(it);
  context_.metrics.subscriptions.fetch_sub(1);
  return true;
}

void ClientSession::drop_subscriptions() {
  while (!subscriptions_.empty()) unsubscribe(subscriptions_.begin()->first);
}

void ClientSession::deliver(const hub::Subscription& sub, const hub::SharedEvent& event) {
  offer(sub, event, /*live=*/true);
}

void ClientSession::offer(const hub::Subscription& sub, const hub::SharedEvent& event, bool live) {
  if (closing_) return;
  auto size = event->json.size();
  if (!backlog_.empty() ||
      (queued_bytes_ != 0 && queued_bytes_ + size > context_.config.send_queue_bytes)) {
    // Only live events judge a client slow: a replay or a catch-up is paced by its reading.
    if (live && backlog_bytes_ + size > kBacklogFactor * context_.config.send_queue_bytes) {
      // The client reads slower than events come: cut it off rather than let it hold memory
      // or slow anyone else. Its cursor lets it resume exactly where it was.
      context_.metrics.clients_dropped_slow.fetch_add(1);
      close(4000, "slow client: too far behind; reconnect and resume from your last cursor");
      return;
    }
    backlog_.emplace_back(&sub, event);
    backlog_bytes_ += size;
    return;
  }
  send_event(sub, event);
}

void ClientSession::send_event(const hub::Subscription& sub, const hub::SharedEvent& event) {
  queued_bytes_ += event->json.size();
  queue_.push_back(Queued{&sub, event});
  schedule_write();
}

void ClientSession::schedule_write() {
  if (writing_ || write_scheduled_) return;
  write_scheduled_ = true;
  boost::asio::post(context_.hub.io(loop_), [self = self(), this] {
    write_scheduled_ = false;
    start_write();
  });
}

std::string_view ClientSession::next_write(bool whole_messages, std::size_t max_bytes) {
  write_buffer_.clear();
  auto now = std::chrono::system_clock::now();
  while (!queue_.empty()) {
    auto& next = queue_.front();
    auto size = next.event ? next.event->json.size() : control_.front().size();
    if (!write_buffer_.empty() && (!whole_messages || write_buffer_.size() + size > max_bytes)) {
      break;
    }
    if (next.event) {
      auto before = write_buffer_.size();
      frame_event(write_buffer_, *next.sub, *next.event);
      ++events_framed_;
      bytes_framed_ += write_buffer_.size() - before;
      latency_.observe(now - next.event->commit_time);
    } else {
      write_buffer_ += control_.front();
      control_.pop_front();
    }
    queued_bytes_ -= size;
    queue_.pop_front();
  }
  queued_bytes_ += write_buffer_.size();
  report_metrics();
  return write_buffer_;
}

void ClientSession::wrote() {
  queued_bytes_ -= write_buffer_.size();
  write_buffer_.clear();
  pump();
  // A client that caught up gives its write buffer back: ten thousand quiet clients must not
  // each keep the 64 KiB of their last burst. One that is behind keeps it for the next write.
  if (queue_.empty() && write_buffer_.capacity() > kKeepBufferBytes) {
    std::string().swap(write_buffer_);
  }
}

void ClientSession::report_metrics() {
  auto& metrics = context_.metrics;
  if (events_framed_ != 0) {
    metrics.events_out.fetch_add(events_framed_, std::memory_order_relaxed);
    metrics.bytes_out.fetch_add(bytes_framed_, std::memory_order_relaxed);
    events_framed_ = bytes_framed_ = 0;
    metrics.commit_to_send.add(latency_);
  }
  auto queued = static_cast<std::int64_t>(queued_bytes_);
  if (queued != queued_reported_) {
    metrics.queued_bytes.fetch_add(queued - queued_reported_, std::memory_order_relaxed);
    queued_reported_ = queued;
  }
}

void ClientSession::pump() {
  while (!backlog_.empty() && !closing_) {
    auto& [sub, event] = backlog_.front();
    if (queued_bytes_ != 0 &&
        queued_bytes_ + event->json.size() > context_.config.send_queue_bytes) {
      return;
    }
    backlog_bytes_ -= event->json.size();
    auto next = std::move(backlog_.front());
    backlog_.pop_front();
    send_event(*next.first, next.second);
  }
  if (backlog_bytes_ <= context_.config.send_queue_bytes / 2) resume_catch_ups();
}

void ClientSession::resume_catch_ups() {
  for (auto& [id, entry] : subscriptions_) {
    if (entry.paused_at && !entry.catch_up && !closing_) {
      auto from = *entry.paused_at;
      entry.paused_at.reset();
      start_catch_up(entry, from);
    }
  }
}

void ClientSession::start_timers() {
  schedule_heartbeat();
  if (grant_ && grant_->expires_at) {
    expiry_timer_.expires_after(*grant_->expires_at - std::chrono::system_clock::now());
    expiry_timer_.async_wait([self = self(), this](boost::system::error_code ec) {
      if (!ec) close(1008, "token expired");
    });
  }
}

void ClientSession::stop_timers() {
  heartbeat_timer_.cancel();
  expiry_timer_.cancel();
}

void ClientSession::schedule_heartbeat() {
  heartbeat_timer_.expires_after(context_.config.heartbeat);
  heartbeat_timer_.async_wait([self = self(), this](boost::system::error_code ec) {
    if (ec || closing_) return;
    send_heartbeat();
    schedule_heartbeat();
  });
}

}  // namespace pgpulse::gateway
