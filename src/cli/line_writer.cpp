#include "cli/line_writer.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>

namespace pgpulse::cli {

namespace {
// Past this, write at once: memory stays bounded however long a burst lasts.
constexpr std::size_t kFlushThreshold = 1 << 20;
}  // namespace

LineWriter::LineWriter(boost::asio::io_context& io, int fd) : io_(io), fd_(fd) {
  buffer_.reserve(kFlushThreshold + 64 * 1024);
}

LineWriter::~LineWriter() {
  flush();
}

void LineWriter::line_done() {
  buffer_ += '\n';
  if (buffer_.size() >= kFlushThreshold) {
    flush();
  } else if (!flush_posted_) {
    flush_posted_ = true;
    boost::asio::post(io_, [this] {
      flush_posted_ = false;
      flush();
    });
  }
}

bool LineWriter::flush() {
  std::size_t done = 0;
  while (done < buffer_.size() && !reader_gone_) {
    auto n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      reader_gone_ = true;  // EPIPE and friends: nobody is reading any more
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  buffer_.clear();
  return !reader_gone_;
}

}  // namespace pgpulse::cli
