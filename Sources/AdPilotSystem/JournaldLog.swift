internal import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// Structured logging to journald (sd_journal_sendv(3)) when stderr is connected to the
/// journal (systemd sets `JOURNAL_STREAM`), plain lines on stderr otherwise.
package enum JournaldLog {
    package enum Priority: Int32, Sendable {
        case critical = 2, error = 3, warning = 4, notice = 5, info = 6, debug = 7
    }

    /// True when stderr is the journal's stream, as sd_journal_stream_fd documents.
    package static let connected: Bool = {
        guard let raw = getenv("JOURNAL_STREAM") else { return false }
        let parts = String(cString: raw).split(separator: ":")
        var st = stat()
        guard parts.count == 2, fstat(2, &st) == 0 else { return false }
        return UInt64(parts[0]) == UInt64(st.st_dev) && UInt64(parts[1]) == UInt64(st.st_ino)
    }()

    /// Sends MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and `fields` (upper-case names).
    /// Returns false when journald refused it (the caller may fall back to stderr).
    @discardableResult
    package static func send(
        _ message: String, priority: Priority, identifier: String, fields: [String: String]
    ) -> Bool {
        var items = ["MESSAGE=" + message, "PRIORITY=\(priority.rawValue)", "SYSLOG_IDENTIFIER=" + identifier]
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) { items.append(k + "=" + v) }
        let buffers = items.map { Array($0.utf8) }
        var iovecs: [iovec] = []
        iovecs.reserveCapacity(buffers.count)
        return buffers.withUnsafeBufferPointers { pointers in
            for p in pointers {
                iovecs.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: p.baseAddress), iov_len: p.count))
            }
            return sd_journal_sendv(iovecs, Int32(iovecs.count)) == 0
        }
    }
}

extension Array where Element == [UInt8] {
    /// Calls `body` with stable pointers to every element's bytes.
    func withUnsafeBufferPointers<R>(_ body: ([UnsafeBufferPointer<UInt8>]) -> R) -> R {
        func go(_ i: Int, _ acc: [UnsafeBufferPointer<UInt8>]) -> R {
            if i == count { return body(acc) }
            return self[i].withUnsafeBufferPointer { go(i + 1, acc + [$0]) }
        }
        return go(0, [])
    }
}
