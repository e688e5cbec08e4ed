// What WebSocket and SSE clients share: subscriptions (validated, authorized, resumed from
// memory or caught up from the database), a send queue bounded in bytes, heartbeats, and the
// token's expiry. The transports add framing and I/O.
//
// Threads: a session lives on one event loop; every member runs there.
#pragma once

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/auth.hpp"
#include "gateway/config.hpp"
#include "gateway/metrics.hpp"
#include "gateway/table_catalog.hpp"
#include "hub/hub.hpp"
#include "pgpulse/change_stream.hpp"

namespace pgpulse::gateway {

/// Everything sessions share, owned by the server.
struct ServerContext {
  const GatewayConfig& config;
  hub::Hub& hub;
  Metrics& metrics;
  TableCatalog& catalog;
  const TokenVerifier* verifier;  ///< null: authentication is off
};

/// A subscription as a client asks for it, before validation.
struct SubscriptionSpec {
  std::string id;
  std::string schema = "public";
  std::string table;
  std::uint8_t ops = hub::Subscription::kAllOps;
  std::string filter;
  std::vector<std::string> columns;
  std::optional<std::string> from;  ///< cursor text; none: from now on
};

/// One message to send: `head` + body + `tail`, where the body is the shared JSON of an event
/// (not copied per client) or, for control messages and column-limited events, owned text.
struct Outgoing {
  std::string head;
  hub::SharedEvent event;
  std::string body;
  std::string_view tail;
  std::string_view body_view() const { return event && body.empty() ? event->json : body; }
  std::size_t size() const { return head.size() + body_view().size() + tail.size(); }
  /// The three parts as one buffer sequence, for a gathered write.
  std::array<boost::asio::const_buffer, 3> buffers() const {
    auto middle = body_view();
    return {boost::asio::buffer(head), boost::asio::buffer(middle.data(), middle.size()),
            boost::asio::buffer(tail.data(), tail.size())};
  }
};

class ClientSession : public hub::Subscriber {
 public:
  ~ClientSession() override;
  /// Closes the session: `code` and `reason` go in the close frame where the transport has one.
  virtual void close(int code, std::string reason) = 0;

 protected:
  ClientSession(ServerContext& context, std::size_t loop, std::optional<Grant> grant);

  /// Validates, authorizes and registers a subscription, replaying what the client missed.
  /// Reports failure with send_error() and returns false.
  bool subscribe(const SubscriptionSpec& spec);
  bool unsubscribe(const std::string& id);
  std::size_t subscription_count() const noexcept { return subscriptions_.size(); }
  /// Removes every subscription (on close).
  void drop_subscriptions();
  /// Starts heartbeats and the token expiry timer.
  void start_timers();
  void stop_timers();

  /// Puts a message in the send queue; overflowing the queue closes the session (4000).
  void enqueue(Outgoing message);
  /// For transports: the message being written, and its completion.
  bool has_pending() const noexcept { return !queue_.empty(); }
  const Outgoing& front() const { return queue_.front(); }
  void pop_front();
  bool writing_ = false;
  bool closing_ = false;

  // Framing, by the transport.
  virtual Outgoing frame_event(const hub::Subscription& sub, const hub::SharedEvent& event) = 0;
  virtual void send_subscribed(const std::string& id, const Cursor& cursor) = 0;
  virtual void send_error(const std::string& id, const std::string& code,
                          const std::string& message) = 0;
  virtual void send_heartbeat() = 0;
  /// Starts writing the front of the queue if no write is under way.
  virtual void start_write() = 0;
  /// Keeps the session alive across asynchronous callbacks.
  virtual std::shared_ptr<ClientSession> self() = 0;

  ServerContext& context_;
  std::size_t loop_;
  std::optional<Grant> grant_;

 private:
  struct Entry {
    std::unique_ptr<hub::Subscription> sub;
    std::unique_ptr<ChangeStream> catch_up;  ///< set while catching up from the database
    std::unique_ptr<boost::asio::steady_timer> attach_timer;
    std::optional<Cursor> paused_at;  ///< catch-up paused for the client to read; go on from here
    bool attached = false;
  };
  void deliver(const hub::Subscription& sub, const hub::SharedEvent& event) override;
  /// Sends or backlogs an event. Live events that overflow the backlog cut the client off;
  /// replayed and caught-up ones wait for it.
  void offer(const hub::Subscription& sub, const hub::SharedEvent& event, bool live);
  void resume_catch_ups();
  void start_catch_up(Entry& entry, const Cursor& from);
  void try_attach(const std::string& id);
  void schedule_heartbeat();

  /// Frames `event`, counts it in the metrics and queues it.
  void send_event(const hub::Subscription& sub, const hub::SharedEvent& event);
  /// Moves backlog into the send queue while it has room.
  void pump();

  std::unordered_map<std::string, Entry> subscriptions_;
  std::deque<Outgoing> queue_;
  std::size_t queued_bytes_ = 0;
  /// Events waiting for room in the send queue, in order: a replay or a catch-up bigger than
  /// the queue is paced by the client's reading instead of cutting it off. Only a client whose
  /// backlog keeps growing (kBacklogFactor send queues) is cut off.
  std::deque<std::pair<const hub::Subscription*, hub::SharedEvent>> backlog_;
  std::size_t backlog_bytes_ = 0;
  boost::asio::steady_timer heartbeat_timer_;
  boost::asio::steady_timer expiry_timer_;
};

}  // namespace pgpulse::gateway
