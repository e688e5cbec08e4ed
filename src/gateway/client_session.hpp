// What WebSocket and SSE clients share: subscriptions (validated, authorized, resumed from
// memory or caught up from the database), a send queue bounded in bytes (SendQueue),
// heartbeats, and the token's expiry. The transports add framing and I/O.
//
// Threads: a session lives on one event loop; every member runs there.
#pragma once

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "gateway/auth.hpp"
#include "gateway/catch_up.hpp"
#include "gateway/config.hpp"
#include "gateway/metrics.hpp"
#include "gateway/send_queue.hpp"
#include "gateway/session_registry.hpp"
#include "gateway/table_catalog.hpp"
#include "hub/hub.hpp"

namespace pgpulse::gateway {

/// Everything sessions share, owned by the server.
struct ServerContext {
  const GatewayConfig& config;
  hub::Hub& hub;
  Metrics& metrics;
  TableCatalog& catalog;
  SessionRegistry& sessions;
  CatchUpSlots& catch_up_slots;
  /// Reads the change log for catch-ups (a ChangeStream on config.db in the server).
  CatchUpSourceFactory catch_up_source;
};

/// A subscription as a client asks for it, before validation.
struct SubscriptionSpec {
  std::string id;
  TableName table{"public", ""};  ///< names as stored (the protocol's schema and table)
  std::uint8_t ops = hub::Subscription::kAllOps;
  std::string filter;
  std::vector<std::string> columns;
  std::optional<std::string> from;  ///< cursor text; none: from now on
};

/// One of the gateway's `max_clients` places, taken when a request is admitted; released
/// unless handed over to the session, which gives it back when it ends.
class ClientSlot {
 public:
  explicit ClientSlot(std::atomic<std::int64_t>& clients)
      : clients_(&clients), others_(clients.fetch_add(1)) {}
  ~ClientSlot() {
    if (clients_) clients_->fetch_sub(1);
  }
  ClientSlot(const ClientSlot&) = delete;
  ClientSlot& operator=(const ClientSlot&) = delete;
  /// The clients there were before this one.
  std::int64_t others() const noexcept { return others_; }
  void hand_over() noexcept { clients_ = nullptr; }

 private:
  std::atomic<std::int64_t>* clients_;
  std::int64_t others_;
};

/// A subscription refused: `code` and `message` for the client (docs/protocol.md), and the
/// HTTP status for a transport that answers a request with one (SSE).
struct Refusal {
  std::string code;
  std::string message;
  int http_status = 400;
};

/// A validated, authorized subscription, not yet registered.
struct PreparedSubscription {
  std::unique_ptr<hub::Subscription> sub;
  std::optional<Cursor> from;  ///< none: from now on
};

class ClientSession : public hub::Subscriber {
 public:
  ~ClientSession() override;
  /// Closes the session: `code` and `reason` go in the close frame where the transport has one.
  virtual void close(int code, std::string reason) = 0;

 protected:
  ClientSession(ServerContext& context, std::size_t loop, std::optional<Grant> grant);

  /// Validates and authorizes a subscription: the grant first (a token must not learn which
  /// tables exist beyond what it may read), then the table, filter, columns and cursor.
  [[nodiscard]] std::variant<PreparedSubscription, Refusal> prepare(
      const SubscriptionSpec& spec) const;
  /// Registers a prepared subscription (its id must be unused), replaying what the client
  /// missed from memory or catching up from the database.
  void start(PreparedSubscription prepared);
  /// prepare() and start(); a refusal goes to send_error() and returns false.
  bool subscribe(const SubscriptionSpec& spec);
  bool unsubscribe(const std::string& id);
  std::size_t subscription_count() const noexcept { return subscriptions_.size(); }
  /// Removes every subscription (on close).
  void drop_subscriptions();
  /// Starts heartbeats and the token expiry timer.
  void start_timers();
  void stop_timers();

  /// Queues one control message, framed by `frame(out)` (which appends to `out`), and starts
  /// a write (after the current handlers, so a burst leaves in one write).
  template <class Frame>
  void enqueue(Frame&& frame) {
    if (closing_) return;
    std::string text;
    frame(text);
    if (!send_queue_.push_control(std::move(text))) {
      cut_off_slow();
      return;
    }
    schedule_write();
  }
  /// For transports: frames the next messages into the write buffer and returns it, empty when
  /// nothing waits. One message, or with `whole_messages` as many as fit in `max_bytes` (at
  /// least one).
  std::string_view next_write(bool whole_messages, std::size_t max_bytes);
  /// The bytes of the last next_write() are written.
  void wrote();
  bool writing_ = false;
  bool closing_ = false;

  // Framing, by the transport.
  /// Appends the message of `event` for `sub` to `out`.
  virtual void frame_event(std::string& out, const hub::Subscription& sub,
                           const hub::EventRecord& event) = 0;
  virtual void send_subscribed(const std::string& id, const Cursor& cursor) = 0;
  virtual void send_error(const std::string& id, const std::string& code,
                          const std::string& message) = 0;
  virtual void send_heartbeat() = 0;
  /// Starts writing what is queued if no write is under way.
  virtual void start_write() = 0;
  /// Subscription `id` ended after its error was sent (a catch-up that failed, say).
  virtual void subscription_failed(const std::string& /*id*/) {}
  /// Keeps the session alive across asynchronous callbacks.
  virtual std::shared_ptr<ClientSession> self() = 0;

  ServerContext& context_;
  std::size_t loop_;
  std::optional<Grant> grant_;

 private:
  struct Entry {
    std::unique_ptr<hub::Subscription> sub;
    std::shared_ptr<CatchUp> catch_up;  ///< set once the subscription catches up from the log
    bool attached = false;              ///< registered with the hub
  };
  void deliver(const hub::Subscription& sub, const hub::SharedEvent& event) override;
  /// Sends or backlogs an event. Live events that overflow the backlog cut the client off;
  /// replayed and caught-up ones wait for it.
  void offer(const hub::Subscription& sub, const hub::SharedEvent& event, bool live);
  void resume_catch_ups();
  void start_catch_up(Entry& entry, const Cursor& from);
  void schedule_heartbeat();
  void schedule_write();
  /// Closes a client that reads slower than its messages come (close code 4000).
  void cut_off_slow();
  /// Brings the shared metrics up to date with this session's counts.
  void report_metrics();

  std::unordered_map<std::string, Entry> subscriptions_;
  SendQueue send_queue_;
  bool write_scheduled_ = false;
  // Counted here and added to the shared metrics once per write.
  std::uint64_t events_framed_ = 0;
  std::uint64_t bytes_framed_ = 0;
  std::int64_t queued_reported_ = 0;
  LatencyHistogram::Tally latency_;
  boost::asio::steady_timer heartbeat_timer_;
  boost::asio::steady_timer expiry_timer_;
};

}  // namespace pgpulse::gateway
