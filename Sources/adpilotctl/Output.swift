import AdPilotSystem
#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered writes to stdout, so `journal tail -f | grep ...` sees each record at once.
enum Out {
    static func line(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.append(UInt8(ascii: "\n"))
        raw(bytes)
    }

    static func raw(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { exit(0) }  // the reader went away (EPIPE): like `tail`, stop quietly
            offset += n
        }
    }

    static func error(_ text: String) { StandardError.write("adpilotctl: \(text)\n") }
}
