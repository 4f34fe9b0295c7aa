/// An ISO 4217 currency with the minor-unit offset the ad platforms use (Meta's
/// "offset": integer budgets are in minor units, `amount * offset`).
package struct Currency: Hashable, Sendable, Codable, CustomStringConvertible {
    package let code: String
    /// Minor units per major unit: 100 for USD (cents), 1 for JPY.
    package let minorUnitsPerUnit: Int64

    private init(code: String, minorUnitsPerUnit: Int64) {
        self.code = code
        self.minorUnitsPerUnit = minorUnitsPerUnit
    }

    /// Currencies whose platform offset is 1 (no minor unit in budget fields; docs/architecture.md).
    static let offsetOne: Set<String> = ["JPY", "KRW", "CLP", "COP", "CRC", "HUF", "ISK", "IDR", "PYG", "TWD"]

    /// Currencies whose platform offset is 100. A currency in neither table is refused:
    /// guessing an offset would move budgets by a factor of 100.
    static let offsetHundred: Set<String> = [
        "USD", "EUR", "GBP", "AUD", "CAD", "CHF", "CNY", "CZK", "DKK", "HKD", "ILS", "INR",
        "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TRY", "ZAR", "AED",
        "SAR", "BRL", "ARS", "PEN", "RON", "BGN", "EGP", "NGN", "PKR",
    ]

    package init(code: String) throws(MoneyError) {
        if Currency.offsetOne.contains(code) {
            self.init(code: code, minorUnitsPerUnit: 1)
        } else if Currency.offsetHundred.contains(code) {
            self.init(code: code, minorUnitsPerUnit: 100)
        } else {
            throw MoneyError.unsupportedCurrency(code: code)
        }
    }

    package static let usd = try! Currency(code: "USD")
    package static let eur = try! Currency(code: "EUR")
    package static let jpy = try! Currency(code: "JPY")

    package var description: String { code }

    /// Micros in one minor unit: 10,000 for USD, 1,000,000 for JPY. Budgets sent to a
    /// platform must be whole multiples of this.
    package var microsPerMinorUnit: Int64 { Micros.perUnit / minorUnitsPerUnit }

    /// `amount` for people, in this currency's own minor units: "5020" yen, "50.20" dollars
    /// (more digits only when the amount has them).
    package func format(_ amount: Micros) -> String {
        amount.decimalString(minimumFractionDigits: minorUnitsPerUnit == 1 ? 0 : 2)
    }

    package init(from decoder: any Decoder) throws {
        let code = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(code: code)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(code)
    }

    /// Exact conversion to the platform's integer minor units; an amount with a finer
    /// fraction than the currency allows is an error, not a rounding.
    package func minorUnits(_ amount: Micros) throws(MoneyError) -> Int64 {
        let step = microsPerMinorUnit
        guard amount.rawValue % step == 0 else {
            throw MoneyError.inexact(
                amount: amount, currency: self,
                detail: "not a whole number of minor units (1/\(minorUnitsPerUnit) \(code))")
        }
        return amount.rawValue / step
    }

    /// Exact conversion from integer minor units.
    package func micros(minorUnits: Int64) throws(MoneyError) -> Micros {
        try Micros(minorUnits).multiplied(by: microsPerMinorUnit)
    }

    /// True when `amount` is a whole number of minor units.
    package func isRepresentable(_ amount: Micros) -> Bool {
        amount.rawValue % microsPerMinorUnit == 0
    }

}
