/// JSON written straight to bytes, for the journal's hand-written encoder of its hottest
/// record (the decision) and for the snapshots. What it writes must equal `JSONEncoder`'s
/// output with the same settings (records: sorted snake_case keys; snapshots: keys as
/// declared, in order; unescaped slashes): the caller writes keys already converted and in
/// order, and tests compare the two encoders' bytes.
///
/// Separators take care of themselves: every value (and every object or array) is
/// preceded by a comma when something came before it at the same level.
package struct JSONOut: ~Copyable {
    /// The bytes written, in a buffer of its own: appending a byte is a store, not an
    /// array's uniqueness and capacity checks.
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    package private(set) var count = 0
    private var needComma = false

    package init(capacity: Int = 4_096) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// A copy of the bytes written.
    package var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// The bytes written, without a copy, for as long as `body` runs.
    package func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Empty again, keeping the buffer: the next value starts a new document (no comma).
    package mutating func reset() {
        count = 0
        needComma = false
    }

    private mutating func reserve(_ n: Int) {
        guard count + n > capacity else { return }
        let grown = max(capacity * 2, count + n)
        let new = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        new.initialize(from: base, count: count)
        base.deallocate()
        (base, capacity) = (new, grown)
    }

    private mutating func put(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    private mutating func put(_ raw: UnsafeRawBufferPointer) {
        reserve(raw.count)
        if let from = raw.baseAddress {
            UnsafeMutableRawPointer(base + count).copyMemory(from: from, byteCount: raw.count)
        }
        count += raw.count
    }

    private mutating func put(_ b: UnsafeBufferPointer<UInt8>) { put(UnsafeRawBufferPointer(b)) }

    private mutating func separate() {
        if needComma { put(UInt8(ascii: ",")) }
    }

    package mutating func open() {
        separate()
        put(UInt8(ascii: "{"))
        needComma = false
    }

    package mutating func close() {
        put(UInt8(ascii: "}"))
        needComma = true
    }

    package mutating func openArray() {
        separate()
        put(UInt8(ascii: "["))
        needComma = false
    }

    package mutating func closeArray() {
        put(UInt8(ascii: "]"))
        needComma = true
    }

    /// A key, as written (converted, plain ASCII needing no escapes).
    package mutating func key(_ k: StaticString) {
        let n = k.utf8CodeUnitCount
        reserve(n + 4)
        if needComma {
            base[count] = UInt8(ascii: ",")
            count += 1
        }
        base[count] = UInt8(ascii: "\"")
        k.withUTF8Buffer { if let from = $0.baseAddress { (base + count + 1).initialize(from: from, count: n) } }
        base[count + 1 + n] = UInt8(ascii: "\"")
        base[count + 2 + n] = UInt8(ascii: ":")
        count += n + 3
        needComma = false
    }

    /// A key only known at run time (a campaign id), escaped as a string is.
    package mutating func key(_ k: String) {
        string(k)
        put(UInt8(ascii: ":"))
        needComma = false
    }

    /// A value some other encoder already wrote as JSON, copied as it is.
    package mutating func raw(_ json: [UInt8]) {
        separate()
        json.withUnsafeBytes { put($0) }
        needComma = true
    }

    /// A string of `count` bytes that `fill` writes in place: plain ASCII that needs no
    /// escape (hex digits), so nothing is copied twice.
    package mutating func asciiString(count n: Int, _ fill: (UnsafeMutableBufferPointer<UInt8>) -> Void) {
        separate()
        reserve(n + 2)
        base[count] = UInt8(ascii: "\"")
        fill(UnsafeMutableBufferPointer(start: base + count + 1, count: n))
        base[count + 1 + n] = UInt8(ascii: "\"")
        count += n + 2
        needComma = true
    }

    /// A number that must be finite (a state to persist): not a precondition, an error the
    /// writer reports, as `JSONEncoder` refuses one.
    package mutating func finite(_ k: StaticString, _ v: Double) throws(NonFiniteNumber) {
        guard v.isFinite else { throw NonFiniteNumber(key: "\(k)", value: v) }
        double(k, v)
    }

    package struct NonFiniteNumber: Error, CustomStringConvertible {
        package let key: String
        package let value: Double
        package var description: String { "\(key) is \(value), which JSON cannot hold" }
    }

    package mutating func int(_ v: Int64) {
        separate()
        if v < 0 { put(UInt8(ascii: "-")) }
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
        var n = v, written = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                written += 1
                buffer[24 - written] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
            } while n > 0
            put(UnsafeRawBufferPointer(rebasing: buffer[(24 - written)...]))
        }
    }

    package mutating func bool(_ v: Bool) {
        separate()
        let text: StaticString = v ? "true" : "false"
        text.withUTF8Buffer { put($0) }
        needComma = true
    }

    /// A finite number as `JSONEncoder` writes it: Swift's shortest form without a
    /// trailing `.0`. Non-finite numbers are not JSON: the caller never passes one.
    package mutating func double(_ v: Double) {
        precondition(v.isFinite, "\(v) is not valid JSON")
        separate()
        var text = v.description
        text.withUTF8 { utf8 in
            let n = utf8.count
            let whole = n >= 2 && utf8[n - 2] == UInt8(ascii: ".") && utf8[n - 1] == UInt8(ascii: "0")
            put(UnsafeBufferPointer(rebasing: utf8[..<(whole ? n - 2 : n)]))
        }
        needComma = true
    }

    /// A string as `JSONEncoder` writes it: `"` and `\` escaped, the short escapes for
    /// backspace, form feed, newline, return and tab, `\u00xx` (lowercase) for the other
    /// control characters, everything else (slashes included) as is.
    package mutating func string(_ s: String) {
        separate()
        var s = s
        let plain = s.withUTF8 { utf8 -> Bool in
            guard Self.isPlain(utf8) else { return false }
            reserve(utf8.count + 2)
            put(UInt8(ascii: "\""))
            put(utf8)
            put(UInt8(ascii: "\""))
            return true
        }
        if !plain {
            var escaped: [UInt8] = []
            Self.quote(s, into: &escaped)
            escaped.withUnsafeBufferPointer { put($0) }
        }
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

    /// Nearly every string here (ids, reason codes, digests) needs no escape, and is copied
    /// whole: no control character, quote or backslash.
    static func isPlain(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        !utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
    }

    package static func quote(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let plain = s.utf8.withContiguousStorageIfAvailable { utf8 -> Bool in
            guard isPlain(utf8) else { return false }
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
