// pgpulse/change_stream.hpp: the lossless stream of captured row changes.
//
//   boost::asio::io_context io;
//   pgpulse::ChangeStream stream(io, {.connection = {.conninfo = url},
//                                     .from = pgpulse::Cursor::parse(saved)});
//   stream.on_event([&](const pgpulse::ChangeEvent& e) { apply(e); save(e.id); });
//   stream.start();
//   io.run();
//
// Reads the change log that `pgpulse install` fills, woken by NOTIFY and, as a safety net, by
// a periodic poll. Every change committed after `from` is delivered once, in commit order per
// row, each transaction's changes together and in statement order. Reconnects by itself and
// continues from its cursor, so a disconnect delays events but never loses one.
// Thread rules: as for Listener, one io_context thread. Every handler runs on that thread;
// set handlers before start() or from that thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgpulse/change_event.hpp"
#include "pgpulse/connection_options.hpp"
#include "pgpulse/cursor.hpp"
#include "pgpulse/table_name.hpp"

namespace boost::asio {
class io_context;
}

namespace pgpulse {

/// A captured table and its columns, as ChangeStream::on_catalog reports them.
struct CapturedTable {
  TableName table{};
  /// Column names in table order, dropped columns left out.
  std::vector<std::string> columns{};

  friend bool operator==(const CapturedTable&, const CapturedTable&) = default;
};

struct ChangeStreamOptions {
  ConnectOptions connection{};
  /// Where to start: Cursor::now(), Cursor::beginning() or a saved event id.
  Cursor from = Cursor::now();
  /// Only these tables (TableName::parse reads them as written in SQL; a name without a
  /// schema is in `public`); empty means every captured table. Checked at start: an unknown
  /// or uncaptured table fails the stream.
  std::vector<TableName> tables{};
  /// Reads the log this often even without a NOTIFY. Unset: 1 s when capture sends NOTIFY
  /// (a safety net: a lost wake-up costs at most this), 50 ms when it was installed with
  /// WakeupMode::kPoll (then polling is how changes are found).
  std::optional<std::chrono::milliseconds> poll_interval{};
  /// Prunes changes older than the retention (see `pgpulse install --retention`) this often,
  /// in small batches; zero disables. Any number of readers may prune: one at a time does.
  std::chrono::milliseconds prune_interval{60000};
  /// With a catalog handler (on_catalog), re-reads the catalog this often, besides after every
  /// (re)connect; zero (the default): only after a (re)connect.
  std::chrono::milliseconds catalog_interval{0};
};

class ChangeStream {
 public:
  using EventHandler = std::function<void(const ChangeEvent&)>;
  using StateHandler = std::function<void(const StateChange&)>;
  /// Called when the stream stops for good: the exception says why (SqlError for a missing
  /// table, CursorExpired when `from` is older than the retention, ...).
  using ErrorHandler = std::function<void(const std::exception_ptr&)>;
  using ReadyHandler = std::function<void(const Cursor& start)>;
  using CatalogHandler = std::function<void(const std::vector<CapturedTable>&)>;

  ChangeStream(boost::asio::io_context& io, ChangeStreamOptions options);
  /// Stops the stream and destroys every handler at once, so nothing they captured (a
  /// session's `self`, say) outlives the stream; none runs afterwards. May be called from
  /// inside a handler: the handlers are then destroyed as soon as it returns.
  ~ChangeStream();
  ChangeStream(const ChangeStream&) = delete;
  ChangeStream& operator=(const ChangeStream&) = delete;

  void on_event(EventHandler handler);
  void on_state(StateHandler handler);
  void on_error(ErrorHandler handler);
  /// Called once, when the first connect has pinned where the stream starts (`start`, equal
  /// to cursor(), is then a Cursor::Kind::kLog position), before any event. Lets a server
  /// that replays from the stream's start wait for it without polling cursor(). Costs nothing.
  void on_ready(ReadyHandler handler);
  /// Reports which tables are captured and their columns, read on the stream's own connection
  /// after every (re)connect (the first time before on_ready, so a server can answer with a
  /// full catalog from the start) and every `catalog_interval` thereafter. The cost is one
  /// prepared catalog query per report, short next to a read of the log. The query failing
  /// is handled like any other query of the stream: a server error ends the stream
  /// (on_error), a lost connection reconnects. Without a handler nothing is read.
  void on_catalog(CatalogHandler handler);

  void start();
  void stop();
  /// The position after the last delivered event (or `from` before the first).
  [[nodiscard]] const Cursor& cursor() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pgpulse
