// Embedding pgpulse: print every change of one table, resuming from a cursor.
//
//   listen_changes 'postgresql://localhost/app' public.messages [CURSOR]
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>
#include <pgpulse/pgpulse.hpp>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: listen_changes URL TABLE [CURSOR]\n";
    return 2;
  }
  try {
    boost::asio::io_context io;
    pgpulse::ChangeStream stream(
        io, {.connection = {.conninfo = argv[1]},
             .from = argc > 3 ? pgpulse::Cursor::parse(argv[3]) : pgpulse::Cursor::now(),
             .tables = {pgpulse::TableName::parse(argv[2])}});
    stream.on_event([](const pgpulse::ChangeEvent& event) {
      // event.id is the cursor to store if you want to resume after a restart.
      std::cout << pgpulse::to_string(event.op) << ' ' << event.table << ' '
                << event.new_row.value_or(event.old_row.value_or("{}")) << std::endl;
    });
    stream.on_state([](const pgpulse::StateChange& change) {
      std::cerr << pgpulse::to_string(change.state) << ' ' << change.reason << '\n';
    });
    stream.on_error([&](const std::exception_ptr&) { io.stop(); });
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](auto, int) { io.stop(); });
    stream.start();
    io.run();
  } catch (const pgpulse::Error& e) {
    std::cerr << "listen_changes: " << e.what() << '\n';
    return 1;
  }
}
