// `pgpulse watch`: changes (or raw notifications) as JSON lines on stdout until a signal.
#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <exception>
#include <optional>

#include "cli/commands.hpp"
#include "cli/line_writer.hpp"
#include "cli/state_file.hpp"
#include "pgpulse/change_stream.hpp"
#include "pgpulse/error.hpp"
#include "pgpulse/listener.hpp"
#include "util/json_text.hpp"

namespace pgpulse::cli {

namespace {

ConnectOptions connect_options(const std::string& db) {
  // A typo in --db should fail at once; once connected, outages are waited out.
  return ConnectOptions{.conninfo = db, .retry_first_connect = false};
}

void log_state(const StateChange& change) {
  switch (change.state) {
    case ConnectionState::kConnected:
      spdlog::info("connected");
      break;
    case ConnectionState::kDisconnected:
      spdlog::warn("disconnected ({}); reconnecting", change.reason);
      break;
    default:
      break;
  }
}

// How often --state saves the cursor while events flow: bounds how much a restart repeats
// while keeping fsync off the per-event path.
constexpr std::chrono::milliseconds kStateSaveInterval{200};

}  // namespace

int watch(const WatchOptions& options) {
  boost::asio::io_context io(1);
  LineWriter out(io, STDOUT_FILENO);
  std::exception_ptr failure;
  std::uint64_t lines = 0;

  std::optional<Listener> listener;
  std::optional<ChangeStream> stream;
  std::optional<StateFile> state;
  std::string saved_cursor;
  // Output first, then the cursor: a saved cursor never runs ahead of what was printed, so a
  // restart can repeat lines (same ids) but never skip one.
  auto save_state = [&] {
    if (!state || !stream || out.reader_gone()) return;
    if (!out.flush()) return;
    auto cursor = stream->cursor().to_string();
    if (cursor == saved_cursor || stream->cursor().kind() != Cursor::Kind::kLog) return;
    state->save(cursor);
    saved_cursor = std::move(cursor);
  };
  boost::asio::steady_timer save_timer(io);
  std::function<void()> schedule_save = [&] {
    save_timer.expires_after(kStateSaveInterval);
    save_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      save_state();
      schedule_save();
    });
  };
  auto shut_down = [&] {
    if (listener) listener->stop();
    if (stream) stream->stop();
    save_timer.cancel();
    io.stop();
  };
  auto counted = [&] {
    out.line_done();
    if (out.reader_gone() || (options.limit && ++lines >= options.limit)) shut_down();
  };
  auto on_state = [&](const StateChange& change) {
    log_state(change);
    if (change.state == ConnectionState::kFailed && !failure) {
      failure = std::make_exception_ptr(ConnectionError(change.reason));
      shut_down();
    }
  };

  if (!options.channels.empty()) {
    listener.emplace(io, connect_options(options.db));
    for (const auto& channel : options.channels) {
      // The line's start is the same for every notification of a channel: escape it once.
      std::string head = "{\"channel\":";
      json_text::append_string(head, channel);
      head += ",\"payload\":";
      listener->listen(channel, [&, head = std::move(head)](const Notification& n) {
        auto& b = out.buffer();
        b += head;
        json_text::append_string(b, n.payload);
        b += '}';
        counted();
      });
    }
    listener->on_state([&](const StateChange& change) {
      if (change.gap) {
        // NOTIFY keeps nothing for a listener that was away: say so in the stream itself.
        out.buffer() +=
            "{\"gap\":true,\"reason\":\"reconnected; notifications sent while disconnected "
            "are lost\"}";
        out.line_done();
      }
      on_state(change);
    });
    listener->start();
  } else {
    std::string from = options.from;
    if (!options.state_file.empty()) {
      state.emplace(options.state_file);
      if (auto saved = state->load()) from = *saved;
    }
    ChangeStreamOptions stream_options{.connection = connect_options(options.db),
                                       .from = Cursor::parse(from),
                                       .tables = options.tables};
    if (options.poll_interval_ms) {
      stream_options.poll_interval = std::chrono::milliseconds(options.poll_interval_ms);
    }
    stream.emplace(io, std::move(stream_options));
    stream->on_event([&](const ChangeEvent& event) {
      append_json(event, out.buffer());
      counted();
    });
    stream->on_state(on_state);
    stream->on_error([&](const std::exception_ptr& error) {
      if (!failure) failure = error;
      shut_down();
    });
    stream->start();
    if (state) schedule_save();
  }

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) shut_down();
  });
  io.run();
  out.flush();
  save_state();
  if (failure) std::rethrow_exception(failure);
  return 0;
}

}  // namespace pgpulse::cli
