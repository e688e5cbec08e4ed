// pgpulse/cursor.hpp: a position in the stream of changes, to resume from.
//
// Every ChangeEvent carries the cursor just after itself. Resuming from it delivers every
// change committed after that event, each once, in the same order and with the same ids as
// any other reader sees them. The text form is opaque and versioned: keep it, store it, pass
// it back; do not parse it (a write-ahead-log source will put other positions in this type).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace pgpulse {

class Cursor {
 public:
  enum class Kind : std::uint8_t {
    kNow,        ///< changes committed after the stream starts
    kBeginning,  ///< everything still in the change log
    kLog,        ///< a position in the change log
  };
  /// seq() of a cursor that includes every change of its transaction.
  static constexpr std::int64_t kWholeTransaction = std::numeric_limits<std::int64_t>::max();

  /// The default: only what is committed from now on.
  [[nodiscard]] static Cursor now() { return Cursor(Kind::kNow); }
  [[nodiscard]] static Cursor beginning() { return Cursor(Kind::kBeginning); }
  /// Parses "now", "beginning" or an event id. Throws InvalidCursor.
  [[nodiscard]] static Cursor parse(std::string_view text);
  /// Just after change `seq` of the transaction at commit position `position`.
  [[nodiscard]] static Cursor at(std::int64_t position, std::int64_t seq = kWholeTransaction);

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  /// The opaque text form: "now", "beginning", or a short token of URL-safe characters.
  [[nodiscard]] std::string to_string() const;
  /// Appends the text form to `out`.
  void append_to(std::string& out) const;

  /// For kind() == kLog: the commit position of the last transaction delivered (wholly or,
  /// see seq(), up to one of its changes).
  [[nodiscard]] std::int64_t position() const noexcept { return position_; }
  [[nodiscard]] std::int64_t seq() const noexcept { return seq_; }

  friend bool operator==(const Cursor&, const Cursor&) = default;

 private:
  explicit Cursor(Kind kind) : kind_(kind) {}
  Kind kind_;
  std::int64_t position_ = 0;
  std::int64_t seq_ = kWholeTransaction;
};

}  // namespace pgpulse
