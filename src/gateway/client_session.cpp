#include "gateway/client_session.hpp"

#include <boost/asio/post.hpp>

#include "gateway/protocol.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse::gateway {

ClientSession::ClientSession(ServerContext& context, std::size_t loop, std::optional<Grant> grant)
    : context_(context),
      loop_(loop),
      grant_(std::move(grant)),
      send_queue_(context.config.send_queue_bytes),
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

std::variant<PreparedSubscription, Refusal> ClientSession::prepare(
    const SubscriptionSpec& spec) const {
  const auto& id = spec.id;
  if (subscriptions_.contains(id)) {
    return Refusal{"duplicate_subscription", "a subscription with id \"" + id + "\" exists"};
  }
  if (subscriptions_.size() >= context_.config.max_subscriptions) {
    return Refusal{"too_many_subscriptions", "at most " +
                                                 std::to_string(context_.config.max_subscriptions) +
                                                 " subscriptions per connection"};
  }
  const auto& table = spec.table;
  if (grant_ && !grant_->allows(table)) {
    return Refusal{"forbidden", "the token does not allow reading " + table.display(), 403};
  }
  auto columns = context_.catalog.columns(table);
  if (!columns) {
    return Refusal{"unknown_table",
                   "table " + table.display() + " does not exist or is not captured", 404};
  }
  auto sub = std::make_unique<hub::Subscription>();
  sub->id = id;
  sub->table = table;
  sub->ops = spec.ops;
  sub->columns = spec.columns;
  sub->message_prefix = event_prefix(id);
  try {
    sub->filter = hub::RowFilter::parse(spec.filter);
    if (grant_ && !grant_->filter.empty()) {
      sub->filter = sub->filter & hub::RowFilter::parse(grant_->filter);
    }
  } catch (const Error& e) {
    return Refusal{"invalid_filter", e.what()};
  }
  auto needed = sub->filter.columns();
  needed.insert(needed.end(), spec.columns.begin(), spec.columns.end());
  for (const auto& column : needed) {
    if (!columns->contains(column)) {
      return Refusal{"unknown_column",
                     "table " + table.display() + " has no column \"" + column + "\""};
    }
  }
  std::optional<Cursor> from;
  if (spec.from) {
    try {
      from = Cursor::parse(*spec.from);
    } catch (const InvalidCursor& e) {
      return Refusal{"invalid_cursor", e.what()};
    }
    if (from->kind() == Cursor::Kind::kNow) from.reset();
  }
  return PreparedSubscription{std::move(sub), from};
}

bool ClientSession::subscribe(const SubscriptionSpec& spec) {
  auto prepared = prepare(spec);
  if (auto* refusal = std::get_if<Refusal>(&prepared)) {
    send_error(spec.id, refusal->code, refusal->message);
    return false;
  }
  start(std::move(std::get<PreparedSubscription>(prepared)));
  return true;
}

void ClientSession::start(PreparedSubscription prepared) {
  auto id = prepared.sub->id;
  auto& entry = subscriptions_[id];
  entry.sub = std::move(prepared.sub);
  entry.sub->subscriber = this;
  context_.metrics.subscriptions.fetch_add(1);
  auto& hub = context_.hub;
  const auto& from = prepared.from;
  if (!from) {
    hub.attach_now(loop_, *entry.sub);
    entry.attached = true;
    send_subscribed(id, entry.sub->live_after);
    return;
  }
  std::vector<hub::SharedEvent> replay;
  if (from->kind() == Cursor::Kind::kLog && hub.attach(loop_, *entry.sub, *from, replay)) {
    entry.attached = true;
    send_subscribed(id, *from);
    for (const auto& event : replay) offer(*entry.sub, event, /*live=*/false);
    return;
  }
  send_subscribed(id, *from);
  start_catch_up(entry, *from);
}

void ClientSession::start_catch_up(Entry& entry, const Cursor& from) {
  auto* sub = entry.sub.get();
  auto id = sub->id;
  // Which catch-up failed: by the time the posted unsubscribe runs, the client may have
  // replaced the subscription by a new one of the same id, which must stay.
  auto this_catch_up = std::make_shared<std::weak_ptr<CatchUp>>();
  CatchUp::Hooks hooks{
      .deliver =
          [this, sub](const hub::SharedEvent& event) {
            if (sub->wants(*event)) offer(*sub, event, /*live=*/false);
          },
      .far_ahead =
          [this] { return send_queue_.backlog_bytes() > context_.config.send_queue_bytes; },
      .attach =
          [this, id](const Cursor& cursor) {
            auto& attaching = subscriptions_.at(id);
            std::vector<hub::SharedEvent> replay;
            if (!context_.hub.attach(loop_, *attaching.sub, cursor, replay)) return false;
            attaching.attached = true;
            for (const auto& event : replay) offer(*attaching.sub, event, /*live=*/false);
            return true;
          },
      .failed =
          [this, id, this_catch_up](const std::exception_ptr& error) {
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
            // Not from inside the stream's own callback: unsubscribe() stops the catch-up.
            boost::asio::post(context_.hub.io(loop_), [self = self(), this, id, this_catch_up] {
              auto it = subscriptions_.find(id);
              auto failed = this_catch_up->lock();
              if (it == subscriptions_.end() || !failed || it->second.catch_up != failed) return;
              unsubscribe(id);
              subscription_failed(id);
            });
          },
  };
  entry.catch_up = std::make_shared<CatchUp>(
      context_.hub.io(loop_), CatchUp::Options{.table = sub->table}, context_.catch_up_slots,
      context_.catch_up_source, std::move(hooks));
  *this_catch_up = entry.catch_up;
  entry.catch_up->start(from);
}

bool ClientSession::unsubscribe(const std::string& id) {
  auto it = subscriptions_.find(id);
  if (it == subscriptions_.end()) return false;
  auto& entry = it->second;
  if (entry.attached) context_.hub.detach(loop_, *entry.sub);
  if (entry.catch_up) entry.catch_up->stop();
  // Queued events refer to the subscription: none of them may outlive it.
  send_queue_.remove(*entry.sub);
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
  switch (send_queue_.offer(sub, event, live)) {
    case SendQueue::Offer::kQueued:
      schedule_write();
      return;
    case SendQueue::Offer::kBacklogged:
      return;
    case SendQueue::Offer::kTooSlow:
      cut_off_slow();
      return;
  }
}

void ClientSession::cut_off_slow() {
  // Rather than let it hold memory or slow anyone else. Its cursor lets it resume exactly
  // where it was.
  context_.metrics.clients_dropped_slow.fetch_add(1);
  close(4000, "slow client: too far behind; reconnect and resume from your last cursor");
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
  auto now = std::chrono::system_clock::now();
  auto bytes = send_queue_.next_write(
      whole_messages, max_bytes,
      [&](std::string& out, const hub::Subscription& sub, const hub::EventRecord& event) {
        auto before = out.size();
        frame_event(out, sub, event);
        ++events_framed_;
        bytes_framed_ += out.size() - before;
        latency_.observe(now - event.commit_time);
      });
  report_metrics();
  return bytes;
}

void ClientSession::wrote() {
  send_queue_.wrote();
  if (send_queue_.backlog_bytes() <= context_.config.send_queue_bytes / 2) resume_catch_ups();
}

void ClientSession::report_metrics() {
  auto& metrics = context_.metrics;
  if (events_framed_ != 0) {
    metrics.events_out.fetch_add(events_framed_, std::memory_order_relaxed);
    metrics.bytes_out.fetch_add(bytes_framed_, std::memory_order_relaxed);
    events_framed_ = bytes_framed_ = 0;
    metrics.commit_to_send.add(latency_);
  }
  auto queued = static_cast<std::int64_t>(send_queue_.queued_bytes());
  if (queued != queued_reported_) {
    metrics.queued_bytes.fetch_add(queued - queued_reported_, std::memory_order_relaxed);
    queued_reported_ = queued;
  }
}

void ClientSession::resume_catch_ups() {
  if (closing_) return;
  for (auto& [id, entry] : subscriptions_) {
    if (entry.catch_up) entry.catch_up->resume();  // only a paused one goes on
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
