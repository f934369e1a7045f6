#include "journal.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace seatlab {
namespace {

const std::string HEADER = "number,uuid";

std::string printable(const std::string& raw) {
  std::string out;
  for (char c : raw.substr(0, 80)) {
    if (c >= 0x20 && c < 0x7f) out.push_back(c);
    else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
      out += hex;
    }
  }
  return "'" + out + "'";
}

std::string read_all(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw DbFileError(path + ": cannot use db file: " + std::strerror(errno));
  std::string data;
  char chunk[65536];
  std::size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) data.append(chunk, n);
  bool bad = std::ferror(f);
  std::fclose(f);
  if (bad) throw DbFileError(path + ": cannot read db file");
  return data;
}

// Replay the journal's lines into seats; cut a torn last line off the file.
void replay(const std::string& path, std::uint32_t capacity, std::map<std::uint32_t, std::string>& seats) {
  std::string data = read_all(path);
  std::vector<std::string> lines;
  std::size_t start = 0, nl;
  while ((nl = data.find('\n', start)) != std::string::npos) {
    lines.push_back(data.substr(start, nl - start));
    start = nl + 1;
  }
  if (start < data.size()) {
    std::fprintf(stderr, "warning: %s: line %zu has no newline (a torn write); dropping it: %s\n", path.c_str(),
                 lines.size() + 1, printable(data.substr(start)).c_str());
    if (truncate(path.c_str(), static_cast<off_t>(start)) != 0) {
      throw DbFileError(path + ": cannot cut the torn last line: " + std::strerror(errno));
    }
  }
  if (lines.empty()) return;
  std::string first = lines[0];
  if (!first.empty() && first.back() == '\r') first.pop_back();
  if (first != HEADER) {
    throw DbFileError(path + ": line 1: expected the header 'number,uuid', found " + printable(lines[0]));
  }
  std::map<std::string, std::uint32_t> holders;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string raw = lines[i];
    std::size_t lineno = i + 1;
    std::string line = raw;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto comma = line.find(',');
    bool digits = comma != std::string::npos && comma >= 1 && comma <= 10;
    for (std::size_t k = 0; digits && k < comma; ++k) digits = line[k] >= '0' && line[k] <= '9';
    if (!digits || line.find_first_of(",\r", comma + 1) != std::string::npos) {
      throw DbFileError(path + ": line " + std::to_string(lineno) + ": not 'number,uuid': " + printable(raw));
    }
    unsigned long long number = std::stoull(line.substr(0, comma));
    std::string text = line.substr(comma + 1);
    if (number < 1 || number > capacity) {
      throw DbFileError(path + ": line " + std::to_string(lineno) + ": seat number " + std::to_string(number) +
                        " is outside 1.." + std::to_string(capacity) + " (--capacity " +
                        std::to_string(capacity) + ")");
    }
    auto seat = static_cast<std::uint32_t>(number);
    if (text.empty()) {
      if (auto it = seats.find(seat); it != seats.end()) {
        holders.erase(it->second);
        seats.erase(it);
      }
      continue;
    }
    std::string uuid;
    if (!canonical_uuid(text, uuid)) {
      throw DbFileError(path + ": line " + std::to_string(lineno) + ": " + printable(text) +
                        " is not a canonical uuid");
    }
    if (seats.count(seat) || holders.count(uuid)) {
      throw DbFileError(path + ": line " + std::to_string(lineno) + ": seat " + std::to_string(seat) + " / uuid " +
                        uuid + " is already booked (double booking)");
    }
    seats[seat] = uuid;
    holders[uuid] = seat;
  }
}

}  // namespace

bool canonical_uuid(const std::string& text, std::string& out) {
  if (text.size() != 36) return false;
  out.resize(36);
  for (std::size_t i = 0; i < 36; ++i) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (c >= '0' && c <= '9') {
    } else if (c >= 'a' && c <= 'f') {
    } else if (c >= 'A' && c <= 'F') {
      c = static_cast<char>(c - 'A' + 'a');
    } else {
      return false;
    }
    out[i] = c;
  }
  return true;
}

Journal* Journal::open(const std::string& path, std::uint32_t capacity, Sync sync,
                       std::map<std::uint32_t, std::string>& seats) {
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && st.st_size > 0) replay(path, capacity, seats);
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw DbFileError(path + ": cannot use db file: " + std::strerror(errno));
  auto* journal = new Journal(path, fd, sync);
  if (journal->size_ == 0) {
    try {
      journal->append(HEADER + "\n");
    } catch (const DbWriteError& exc) {
      delete journal;
      throw DbFileError(path + ": cannot write the db file's header: " + exc.what());
    }
  }
  return journal;
}

Journal::Journal(std::string path, int fd, Sync sync) : path_(std::move(path)), fd_(fd), sync_(sync) {
  struct stat st {};
  size_ = fstat(fd, &st) == 0 ? st.st_size : 0;
}

Journal::~Journal() { close(); }

void Journal::record_book(std::uint32_t number, const std::string& uuid) {
  append(std::to_string(number) + "," + uuid + "\n");
  std::lock_guard lock(mutex_);
  ++written_;
}

void Journal::record_cancel(std::uint32_t number) {
  append(std::to_string(number) + ",\n");
  std::lock_guard lock(mutex_);
  ++written_;
}

void Journal::append(const std::string& line) {
  if (torn_) cut_back();
  std::size_t done = 0;
  while (done < line.size()) {  // a short write is continued; on a full disk the rest fails
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      if (done) {
        torn_ = true;
        cut_back();
      }
      throw DbWriteError(path_ + ": cannot write to the db file: " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  size_ += static_cast<long long>(done);
}

void Journal::cut_back() {
  if (ftruncate(fd_, size_) != 0) {
    std::fprintf(stderr, "error: %s: cannot cut a torn line off the db file: %s\n", path_.c_str(), std::strerror(errno));
    throw DbWriteError(path_ + ": a torn line could not be cut off the db file: " + std::strerror(errno));
  }
  torn_ = false;
  std::fprintf(stderr, "warning: %s: a write failed part way; cut the db file back to its last whole line\n",
               path_.c_str());
}

void Journal::commit() {
  if (sync_ != Sync::fsync) return;
  std::unique_lock lock(mutex_);
  std::uint64_t target = written_;
  while (durable_ < target) {
    if (syncing_) {
      cond_.wait(lock);
      continue;
    }
    syncing_ = true;
    std::uint64_t upto = written_;
    lock.unlock();
    int rc = ::fsync(fd_);
    int err = errno;
    lock.lock();
    syncing_ = false;
    cond_.notify_all();
    if (rc != 0) throw DbWriteError(path_ + ": fsync of the db file failed: " + std::strerror(err));
    if (upto > durable_) durable_ = upto;
  }
}

void Journal::close() {
  if (fd_ < 0) return;
  ::fsync(fd_);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace seatlab
