/// JSON written straight to bytes, for the journal's hand-written encoder of its hottest
/// record (the decision). What it writes must equal `JSONEncoder`'s output with the
/// journal's settings (sorted keys, snake_case keys, unescaped slashes): the caller writes
/// keys already converted and in order, and tests compare the two encoders' bytes.
///
/// Separators take care of themselves: every value (and every object or array) is
/// preceded by a comma when something came before it at the same level.
package struct JSONOut {
    package var bytes: [UInt8] = []
    private var needComma = false

    package init(capacity: Int = 4_096) { bytes.reserveCapacity(capacity) }

    private mutating func separate() {
        if needComma { bytes.append(UInt8(ascii: ",")) }
    }

    package mutating func open() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needComma = false
    }

    package mutating func close() {
        bytes.append(UInt8(ascii: "}"))
        needComma = true
    }

    package mutating func openArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needComma = false
    }

    package mutating func closeArray() {
        bytes.append(UInt8(ascii: "]"))
        needComma = true
    }

    /// A key, as written (converted, plain ASCII needing no escapes).
    package mutating func key(_ k: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        k.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needComma = false
    }

    package mutating func int(_ v: Int64) {
        separate()
        if v < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDigits(v.magnitude)
        needComma = true
    }

    package mutating func uint(_ v: UInt64) {
        separate()
        appendDigits(v)
        needComma = true
    }

    /// The decimal digits of `v`, as `String(v)` writes them, without making a String.
    private mutating func appendDigits(_ v: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: UInt64.max has 20 digits
        var n = v, count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                count += 1
                buffer[24 - count] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
            } while n > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(24 - count)...]))
        }
    }

    package mutating func bool(_ v: Bool) {
        separate()
        bytes.append(contentsOf: (v ? "true" : "false").utf8)
        needComma = true
    }

    /// A finite number as `JSONEncoder` writes it: Swift's shortest form without a
    /// trailing `.0`. Non-finite numbers are not JSON: the caller never passes one.
    package mutating func double(_ v: Double) {
        precondition(v.isFinite, "\(v) is not valid JSON")
        separate()
        let text = v.description
        if text.hasSuffix(".0") {
            bytes.append(contentsOf: text.utf8.dropLast(2))
        } else {
            bytes.append(contentsOf: text.utf8)
        }
        needComma = true
    }

    /// A string as `JSONEncoder` writes it: `"` and `\` escaped, the short escapes for
    /// backspace, form feed, newline, return and tab, `\u00xx` (lowercase) for the other
    /// control characters, everything else (slashes included) as is.
    package mutating func string(_ s: String) {
        separate()
        Self.quote(s, into: &bytes)
        needComma = true
    }

    /// A statistic (`StatValue`): a number when finite, else "nan", "inf" or "-inf".
    package mutating func stat(_ v: Double) {
        if v.isFinite { double(v) } else { string(StatValue(v).description) }
    }

    package mutating func doubles(_ vs: [Double]) {
        openArray()
        for v in vs { double(v) }
        closeArray()
    }

    // A key and its value.

    package mutating func string(_ k: StaticString, _ v: String) {
        key(k)
        string(v)
    }

    package mutating func int(_ k: StaticString, _ v: Int64) {
        key(k)
        int(v)
    }

    package mutating func uint(_ k: StaticString, _ v: UInt64) {
        key(k)
        uint(v)
    }

    package mutating func bool(_ k: StaticString, _ v: Bool) {
        key(k)
        bool(v)
    }

    package mutating func double(_ k: StaticString, _ v: Double) {
        key(k)
        double(v)
    }

    package mutating func stat(_ k: StaticString, _ v: Double) {
        key(k)
        stat(v)
    }

    package mutating func doubles(_ k: StaticString, _ v: [Double]) {
        key(k)
        doubles(v)
    }

    static let hex = Array("0123456789abcdef".utf8)

    package static func quote(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Nearly every string here (ids, reason codes, digests) needs no escape: copy it whole.
        let plain = s.utf8.withContiguousStorageIfAvailable { utf8 -> Bool in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
                return false
            }
            out.append(contentsOf: utf8)
            return true
        }
        if plain == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), byte])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
