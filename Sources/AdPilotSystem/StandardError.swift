#if canImport(Glibc)
import Glibc
#endif

/// Writes to standard error without Foundation (the executables stay small).
package enum StandardError {
    package static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }  // stderr gone: nothing useful left to do
            offset += n
        }
    }
}
