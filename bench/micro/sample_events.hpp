// Realistic change events for the micro-benchmarks: INSERTs into a chat table, as the change
// log reader makes them (rows are row_to_json text, already escaped by PostgreSQL).
//
//   {"id":1000001,"room":5,"author":"linus","body":"...","created_at":"2024-...","edited_at":null}
//
// Two sizes: a typical short message (~150 bytes of row JSON) and one whose body makes the
// row 4 KiB, where costs that grow with the bytes show.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "pgpulse/change_event.hpp"

namespace pgpulse::bench {

enum class RowSize { kSmall, kLarge };

/// Bytes of row JSON that each size aims at.
std::size_t row_bytes(RowSize size);

/// The row JSON of message `n`: n changes the id and the text, not the length.
std::string sample_row(RowSize size, std::int64_t n);

/// An INSERT of sample_row(size, n), with cursor 1.<n>.1 and a commit time.
ChangeEvent sample_event(RowSize size, std::int64_t n);

}  // namespace pgpulse::bench
