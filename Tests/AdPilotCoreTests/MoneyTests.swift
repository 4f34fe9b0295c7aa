import Testing
@testable import AdPilotCore

@Suite struct MoneyTests {
    @Test(arguments: [
        ("12.34", Int64(12_340_000)), ("0", 0), ("0.000001", 1), ("1", 1_000_000), ("-1.5", -1_500_000),
        ("007.10", 7_100_000), ("9223372036854.775807", Int64.max), ("-9223372036854.775807", -Int64.max),
        ("123456.654321", 123_456_654_321),
    ])
    func parsesExactly(text: String, micros: Int64) throws {
        #expect(try Micros(decimal: text) == Micros(micros))
    }

    @Test(arguments: ["", "-", "1.", ".5", "+1", "1e3", " 1", "1 ", "1,5", "1.0000001", "12.3456789",
                      "9223372036854.775808", "99999999999999999999", "1..2", "--1", "0x10", "１"])
    func refusesBadDecimals(text: String) {
        #expect(throws: MoneyError.self) { try Micros(decimal: text) }
    }

    @Test func moreThanSixDecimalsSaysSo() {
        do {
            _ = try Micros(decimal: "1.1234567")
            Issue.record("parsed")
        } catch {
            #expect(error.description.contains("more than 6 decimal places"))
        }
    }

    @Test(arguments: [(Int64(12_340_000), 0, "12.34"), (12_000_000, 2, "12.00"), (12_000_000, 0, "12"),
                      (1, 0, "0.000001"), (-1_500_000, 2, "-1.50"), (Int64.min, 0, "-9223372036854.775808"),
                      (Int64.max, 6, "9223372036854.775807")])
    func formats(micros: Int64, minimumFractionDigits: Int, text: String) {
        #expect(Micros(micros).decimalString(minimumFractionDigits: minimumFractionDigits) == text)
    }

    @Test func formatThenParseRoundTrips() throws {
        var rng = SplitMix64(seed: 0xADB1_0701)
        for _ in 0..<100_000 {
            let m = Micros(Int64(bitPattern: rng.next()) >> Int64(rng.next() % 64))
            guard m.rawValue != Int64.min else { continue }  // its magnitude has no positive twin
            #expect(try Micros(decimal: m.decimalString()) == m, "seed-derived value \(m.rawValue)")
        }
    }

    @Test func arithmeticIsCheckedNeverWraps() throws {
        #expect(try Micros(2).adding(Micros(3)) == Micros(5))
        #expect(throws: MoneyError.self) { try Micros(.max).adding(Micros(1)) }
        #expect(throws: MoneyError.self) { try Micros(.min).subtracting(Micros(1)) }
        #expect(throws: MoneyError.self) { try Micros(.max / 2 + 1).multiplied(by: 2) }
        #expect(throws: MoneyError.self) { try Micros.sum([Micros(.max), Micros(1)]) }
        #expect(Micros(.max).saturatingAdding(Micros(5)) == Micros(.max))
        #expect(Micros(.min).saturatingSubtracting(Micros(5)) == Micros(.min))
    }

    @Test func statisticBridgeRefusesWhatDoesNotFit() {
        #expect(Micros.fromStatistic(.nan) == nil)
        #expect(Micros.fromStatistic(.infinity) == nil)
        #expect(Micros.fromStatistic(9.3e18) == nil)
        #expect(Micros.fromStatistic(9_223_372_036_854_775_807.0) == nil)  // rounds to 2^63
        #expect(Micros.fromStatistic(12.7, rounding: .down) == Micros(12))
    }

    @Test func minorUnitsConvertExactlyBothWays() throws {
        #expect(Currency.usd.microsPerMinorUnit == 10_000)
        #expect(try Currency.usd.minorUnits(Micros(decimal: "12.34")) == 1234)
        #expect(try Currency.usd.micros(minorUnits: 1234) == Micros(12_340_000))
        #expect(Currency.jpy.microsPerMinorUnit == 1_000_000)
        #expect(try Currency.jpy.minorUnits(Micros(decimal: "1500")) == 1500)
        #expect(try Currency.jpy.micros(minorUnits: 1500) == Micros(1_500_000_000))
        for code in ["KRW", "CLP", "COP", "CRC", "HUF", "ISK", "IDR", "PYG", "TWD"] {
            #expect(try Currency(code: code).minorUnitsPerUnit == 1, "\(code)")
        }
        for code in ["USD", "EUR", "GBP"] {
            #expect(try Currency(code: code).minorUnitsPerUnit == 100, "\(code)")
        }
    }

    @Test func inexactAmountsAreErrorsNotRoundings() {
        #expect(throws: MoneyError.self) { try Currency.usd.minorUnits(Micros(12_345_678)) }
        #expect(throws: MoneyError.self) { try Currency.jpy.minorUnits(Micros(decimal: "0.5")) }
        #expect(throws: MoneyError.self) { try Currency.jpy.micros(minorUnits: Int64.max) }
        #expect(throws: MoneyError.self) { try Currency(code: "XXX") }
        #expect(throws: MoneyError.self) { try Currency(code: "usd") }
    }

    @Test func floorAndCeilStayOnMinorUnits() {
        #expect(Currency.usd.floor(Micros(12_345_678)) == Micros(12_340_000))
        #expect(Currency.usd.ceil(Micros(12_345_678)) == Micros(12_350_000))
        #expect(Currency.usd.ceil(Micros(12_340_000)) == Micros(12_340_000))
        #expect(Currency.usd.ceil(Micros(.max)) == Currency.usd.floor(Micros(.max)))
    }
}

/// Issue 15, item 13: JPY budgets showed as "5020.00".
@Suite struct CurrencyFormatTests {
    @Test func amountsShowInTheCurrencysOwnMinorUnits() {
        #expect(Currency.jpy.format(Micros(5_020_000_000)) == "5020")
        #expect(Currency.usd.format(Micros(50_200_000)) == "50.20")
        #expect(Currency.usd.format(Micros(50_205_000)) == "50.205", "digits the amount has are never hidden")
        #expect(Currency.eur.format(.zero) == "0.00" && Currency.jpy.format(.zero) == "0")
    }
}
