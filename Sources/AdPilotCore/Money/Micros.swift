/// An amount of money as an integer count of micros (1/1,000,000 of the currency unit),
/// like the Google Ads API's `amount_micros`. Arithmetic is checked: an overflow is a
/// typed error, never a wrap and never a trap.
package struct Micros: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    package static let perUnit: Int64 = 1_000_000
    /// Digits after the decimal point that a micros amount can carry exactly.
    package static let fractionDigits = 6
    /// Longest decimal string `init(decimal:)` reads; longer input is refused, not parsed.
    package static let decimalLengthMax = 40

    package static let zero = Micros(0)

    package let rawValue: Int64

    package init(_ rawValue: Int64) { self.rawValue = rawValue }

    package init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(Int64.self)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    package static func < (a: Micros, b: Micros) -> Bool { a.rawValue < b.rawValue }

    package var description: String { decimalString() }

    // MARK: Checked arithmetic

    package func adding(_ other: Micros) throws(MoneyError) -> Micros {
        let (v, o) = rawValue.addingReportingOverflow(other.rawValue)
        if o { throw MoneyError.overflow(operation: "\(self) + \(other)") }
        return Micros(v)
    }

    package func subtracting(_ other: Micros) throws(MoneyError) -> Micros {
        let (v, o) = rawValue.subtractingReportingOverflow(other.rawValue)
        if o { throw MoneyError.overflow(operation: "\(self) - \(other)") }
        return Micros(v)
    }

    package func multiplied(by factor: Int64) throws(MoneyError) -> Micros {
        let (v, o) = rawValue.multipliedReportingOverflow(by: factor)
        if o { throw MoneyError.overflow(operation: "\(self) * \(factor)") }
        return Micros(v)
    }

    /// Saturating variants for bounds arithmetic, where the right answer at the edge of the
    /// representable range is the edge itself (a cap of "everything" stays "everything").
    package func saturatingAdding(_ other: Micros) -> Micros {
        let (v, o) = rawValue.addingReportingOverflow(other.rawValue)
        if !o { return Micros(v) }
        return other.rawValue > 0 ? Micros(.max) : Micros(.min)
    }

    package func saturatingSubtracting(_ other: Micros) -> Micros {
        let (v, o) = rawValue.subtractingReportingOverflow(other.rawValue)
        if !o { return Micros(v) }
        return other.rawValue > 0 ? Micros(.min) : Micros(.max)
    }

    /// Sum of amounts, or an overflow error.
    package static func sum<S: Sequence<Micros>>(_ amounts: S) throws(MoneyError) -> Micros {
        var total = Micros.zero
        for a in amounts { total = try total.adding(a) }
        return total
    }

    // MARK: Statistics bridge

    /// The amount as a Double, for statistics only (ratios, z-scores). Never convert back
    /// with this; use `Micros.fromStatistic`.
    package var statistic: Double { Double(rawValue) }

    /// A computed amount (for example a policy's proposal) rounded to whole micros.
    /// Returns nil for NaN, infinities, and values outside Int64.
    package static func fromStatistic(
        _ value: Double, rounding rule: FloatingPointRoundingRule = .toNearestOrEven
    ) -> Micros? {
        guard value.isFinite else { return nil }
        let r = value.rounded(rule)
        // Double(Int64.max) rounds up to 2^63, which does not fit: the bound is exclusive.
        guard r >= -9.223372036854775808e18, r < 9.223372036854775808e18 else { return nil }
        return Micros(Int64(r))
    }
}

package enum MoneyError: Error, Equatable, Sendable, CustomStringConvertible {
    case overflow(operation: String)
    case invalidDecimal(input: String, problem: String)
    case inexact(amount: Micros, currency: Currency, detail: String)
    case unsupportedCurrency(code: String)

    package var description: String {
        switch self {
        case .overflow(let op):
            return "amount overflow in \(op): the result does not fit in 64-bit micros"
        case .invalidDecimal(let input, let problem):
            return "invalid decimal amount \"\(input.prefix(Micros.decimalLengthMax))\": \(problem)"
        case .inexact(let amount, let currency, let detail):
            return "\(amount) \(currency.code) cannot be represented exactly: \(detail)"
        case .unsupportedCurrency(let code):
            return "unsupported currency \"\(code.prefix(8))\": add it to the minor-unit table in Currency.swift"
        }
    }
}

// MARK: Exact decimal parsing and formatting

extension Micros {
    /// Parses a plain decimal string exactly: `"12.34"` is 12,340,000 micros. Accepts an
    /// optional leading `-`, digits, and at most six fraction digits. No exponent, no
    /// grouping, no whitespace, no `+`: platforms send plain decimals, and anything else
    /// is refused rather than guessed at.
    package init(decimal input: String) throws(MoneyError) {
        func fail(_ problem: String) -> MoneyError { .invalidDecimal(input: input, problem: problem) }
        let bytes = Array(input.utf8)
        guard !bytes.isEmpty else { throw fail("empty") }
        guard bytes.count <= Micros.decimalLengthMax else {
            throw fail("longer than \(Micros.decimalLengthMax) characters")
        }
        var i = 0
        let negative = bytes[0] == UInt8(ascii: "-")
        if negative { i = 1 }
        var whole: Int64 = 0
        var wholeDigits = 0
        while i < bytes.count, let d = Micros.digit(bytes[i]) {
            let (m, o1) = whole.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(d)
            if o1 || o2 { throw fail("too large for 64-bit micros") }
            whole = s
            wholeDigits += 1
            i += 1
        }
        guard wholeDigits > 0 else { throw fail("expected a digit before any decimal point") }
        var fraction: Int64 = 0
        var fractionDigits = 0
        if i < bytes.count {
            guard bytes[i] == UInt8(ascii: ".") else { throw fail("unexpected character at offset \(i)") }
            i += 1
            while i < bytes.count, let d = Micros.digit(bytes[i]) {
                fractionDigits += 1
                if fractionDigits > Micros.fractionDigits {
                    throw fail("more than \(Micros.fractionDigits) decimal places cannot be represented in micros")
                }
                fraction = fraction * 10 + d
                i += 1
            }
            guard fractionDigits > 0 else { throw fail("expected a digit after the decimal point") }
            guard i == bytes.count else { throw fail("unexpected character at offset \(i)") }
        }
        for _ in fractionDigits..<Micros.fractionDigits { fraction *= 10 }
        let (scaled, o1) = whole.multipliedReportingOverflow(by: Micros.perUnit)
        let (total, o2) = scaled.addingReportingOverflow(fraction)
        if o1 || o2 { throw fail("too large for 64-bit micros") }
        self.init(negative ? -total : total)
    }

    private static func digit(_ c: UInt8) -> Int64? {
        c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") ? Int64(c - UInt8(ascii: "0")) : nil
    }

    /// The exact decimal form: trailing fraction zeros trimmed down to
    /// `minimumFractionDigits` (so `decimalString(minimumFractionDigits: 2)` of 12,000,000
    /// is `"12.00"`). Round-trips through `init(decimal:)`.
    package func decimalString(minimumFractionDigits: Int = 0) -> String {
        precondition((0...Micros.fractionDigits).contains(minimumFractionDigits))
        // Work in UInt64 so that Int64.min has a magnitude.
        let magnitude = rawValue.magnitude
        let whole = magnitude / UInt64(Micros.perUnit)
        var fraction = magnitude % UInt64(Micros.perUnit)
        var digits = Micros.fractionDigits
        while digits > minimumFractionDigits, fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        var s = rawValue < 0 ? "-" : ""
        s += String(whole)
        if digits > 0 {
            let f = String(fraction)
            s += "." + String(repeating: "0", count: digits - f.count) + f
        }
        return s
    }
}
