// Buffered output of JSON lines to a file descriptor (stdout).
//
// Lines are appended to a buffer and written when the loop has nothing else ready (a flush is
// posted, so it runs after the handler that is draining a burst): a reader sees each event at
// once, and a burst leaves in a few large write(2) calls instead of one per line.
#pragma once

#include <boost/asio/io_context.hpp>
#include <string>

namespace pgpulse::cli {

class LineWriter {
 public:
  LineWriter(boost::asio::io_context& io, int fd);
  ~LineWriter();

  /// The buffer to append one line to; call line_done() after each line.
  std::string& buffer() { return buffer_; }
  void line_done();
  /// Writes everything buffered now. Returns false when the reader is gone (EPIPE).
  bool flush();
  bool reader_gone() const noexcept { return reader_gone_; }

 private:
  boost::asio::io_context& io_;
  int fd_;
  std::string buffer_;
  bool flush_posted_ = false;
  bool reader_gone_ = false;
};

}  // namespace pgpulse::cli
