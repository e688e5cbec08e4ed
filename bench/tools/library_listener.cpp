// The pgpulse library alone as a listener, for bench/listener_drain.sh: pgpulse::Listener on
// one io_context, a handler that only counts. Against the raw libpq loop it shows what the
// library's event loop, reconnect logic and Notification view cost, without `watch`'s JSON
// formatting and output.
//
//   library_listener CONNINFO CHANNEL COUNT
//
// Prints `ready` on stderr once LISTEN has committed, exits 0 after COUNT notifications.
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "pgpulse/listener.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: library_listener CONNINFO CHANNEL COUNT\n");
    return 2;
  }
  const std::string channel = argv[2];
  const long count = std::strtol(argv[3], nullptr, 10);
  boost::asio::io_context io;
  pgpulse::Listener listener(io, {.conninfo = argv[1]});
  long received = 0;
  listener.listen(channel, [&](const pgpulse::Notification&) {
    if (++received == count) io.stop();
  });
  listener.on_state([](const pgpulse::StateChange& change) {
    if (change.state == pgpulse::ConnectionState::kConnected) std::fputs("ready\n", stderr);
  });
  listener.start();
  io.run();
  return received == count ? 0 : 1;
}
