// pgpulse/listener.hpp: LISTEN on any channels over one connection driven by an Asio loop.
//
//   boost::asio::io_context io;
//   pgpulse::Listener listener(io, {.conninfo = "postgresql://localhost/app"});
//   listener.listen("jobs", [](const pgpulse::Notification& n) { ... });
//   listener.on_state([](const pgpulse::StateChange& s) { if (s.gap) resync(); });
//   listener.start();
//   io.run();
//
// The listener waits on the libpq socket (no polling, no thread of its own), reconnects with
// capped exponential backoff and jitter, re-issues every LISTEN after a reconnect, and probes
// an idle connection so a dead one is noticed. Handlers run on the io_context's thread.
// Thread rules: construct, call and destroy it on the thread running the io_context.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "pgpulse/connection_options.hpp"
#include "pgpulse/notification.hpp"

namespace boost::asio {
class io_context;
}

namespace pgpulse {

class Listener {
 public:
  using Handler = std::function<void(const Notification&)>;
  using StateHandler = std::function<void(const StateChange&)>;

  Listener(boost::asio::io_context& io, ConnectOptions options);
  /// Stops listening and destroys every handler (channel and state) at once, so nothing they
  /// captured outlives the listener; none runs afterwards. May be called from inside a
  /// handler: the handlers are then destroyed as soon as it returns.
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  /// Subscribes `handler` to `channel` (any text: quoted with PQescapeIdentifier). Replaces
  /// an earlier handler of the same channel. Takes effect on the connection at once if it is
  /// up, else on connect.
  void listen(const std::string& channel, Handler handler);
  /// Stops listening to `channel`.
  void unlisten(const std::string& channel);
  void on_state(StateHandler handler);

  /// Starts connecting in the background.
  void start();
  /// Closes the connection; no handler is called afterwards.
  void stop();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pgpulse
