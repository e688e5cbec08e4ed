// pgpulse/cursor.hpp: a position in the stream of changes, to resume from.
//
// Every ChangeEvent carries the cursor just after itself. Resuming from it delivers every
// change committed after that event, each once. The text form is opaque and versioned: keep
// it, store it, pass it back; do not parse it (a write-ahead-log source will put other
// positions in the same type).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgpulse {

/// A PostgreSQL snapshot (pg_snapshot): the transactions whose changes it shows are all
/// those below `xmax` except the ones in `xip`.
struct Snapshot {
  std::uint64_t xmin = 0;
  std::uint64_t xmax = 0;
  std::vector<std::uint64_t> xip;  ///< in progress, ascending

  /// Parses PostgreSQL's text form "xmin:xmax:xip,xip". Throws InvalidCursor.
  static Snapshot parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

class Cursor {
 public:
  enum class Kind : std::uint8_t {
    kNow,        ///< changes committed after the stream starts
    kBeginning,  ///< everything still in the change log
    kLog,        ///< a position in the trigger-captured change log
  };

  /// The default: only what is committed from now on.
  static Cursor now() { return Cursor(Kind::kNow); }
  static Cursor beginning() { return Cursor(Kind::kBeginning); }
  /// Parses "now", "beginning" or a cursor string from an event. Throws InvalidCursor.
  static Cursor parse(std::string_view text);
  /// A log position: all of batch `done`, plus the changes of batch (`done`, `batch`]
  /// ordered up to and including (xid, seq). xid 0 means "nothing of the batch yet".
  static Cursor in_log(Snapshot done, Snapshot batch, std::uint64_t xid, std::int64_t seq);

  Kind kind() const noexcept { return kind_; }
  /// The opaque text form: "now", "beginning", or a compact token.
  std::string to_string() const;
  /// Appends the text form to `out` (no allocation when out has room).
  void append_to(std::string& out) const;

  // Log positions; meaningful for kind() == kLog only.
  const Snapshot& done() const noexcept { return done_; }
  const Snapshot& batch() const noexcept { return batch_; }
  std::uint64_t xid() const noexcept { return xid_; }
  std::int64_t seq() const noexcept { return seq_; }

  friend bool operator==(const Cursor&, const Cursor&) = default;

 private:
  explicit Cursor(Kind kind) : kind_(kind) {}
  Kind kind_;
  Snapshot done_;
  Snapshot batch_;
  std::uint64_t xid_ = 0;
  std::int64_t seq_ = 0;
};

}  // namespace pgpulse
