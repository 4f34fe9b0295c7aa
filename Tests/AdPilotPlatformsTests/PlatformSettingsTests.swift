import Testing
@testable import AdPilotCore
@testable import AdPilotPlatforms

@Suite struct PlatformSettingsTests {
    func parse(_ text: String) -> Result<PlatformSettings, PlatformSettings.Problem> {
        PlatformSettings.parse(try! JSON.parse(Array(text.utf8)), path: "platforms[0]")
    }

    @Test func validConfigsParse() throws {
        guard
            case .tiktok(let t, let cred) = try parse(
                #"{"kind":"tiktok","advertiser_id":"7000001","currency":"JPY","token_credential":"tiktok-token","#
                    + #""utc_offset_seconds":32400}"#
            ).get()
        else {
            Issue.record("not tiktok"); return
        }
        #expect(
            t.currency == .jpy && t.utcOffsetSeconds == 32_400 && cred == "tiktok-token"
                && t.baseURL.hasPrefix("https://business-api.tiktok.com"))
        guard
            case .meta(let m, _) = try parse(
                #"{"kind":"meta","ad_account_id":"act_1234","currency":"USD","token_credential":"meta-token","#
                    + #""base_url":"http://127.0.0.1:9000/v21.0"}"#
            ).get()
        else {
            Issue.record("not meta"); return
        }
        #expect(m.adAccountID == "1234" && m.baseURL == "http://127.0.0.1:9000/v21.0")
        #expect(try parse(#"{"kind":"simulator","seed":7,"campaigns":50}"#).get() == .simulator(seed: 7, campaigns: 50))
        guard
            case .shopify(let s, _) = try parse(
                #"{"kind":"shopify","shop_domain":"acme.myshopify.com","currency":"EUR","#
                    + #""token_credential":"shopify-token"}"#
            ).get()
        else {
            Issue.record("not shopify"); return
        }
        #expect(s.baseURL == "https://acme.myshopify.com/admin/api/2024-10")
    }

    @Test(arguments: [
        (
            #"{"kind":"tiktok","advertiser_id":"7","currency":"USD","token_credential":"t","token":"abc"}"#,
            "platforms[0].token", "tokens never go in the config file"
        ),
        (
            #"{"kind":"tiktok","advertiser_id":"7","currency":"USD","token_credential":"t","colour":"red"}"#,
            "platforms[0].colour", "unknown key"
        ),
        (
            #"{"kind":"meta","ad_account_id":"act_x1","currency":"USD","token_credential":"m"}"#,
            "platforms[0].ad_account_id", "must be digits"
        ),
        (
            #"{"kind":"tiktok","advertiser_id":"7","currency":"XXX","token_credential":"t"}"#, "platforms[0].currency",
            "supported ISO 4217"
        ),
        (
            #"{"kind":"tiktok","advertiser_id":"7","currency":"USD","token_credential":"t","#
                + #""base_url":"http://example.com"}"#,
            "platforms[0].base_url", "must use https"
        ),
        (#"{"kind":"tiktok","advertiser_id":"7","currency":"USD"}"#, "platforms[0].token_credential", "required"),
        (#"{"kind":"google"}"#, "platforms[0].kind", "unknown platform"),
        (#"{"kind":"simulator","campaigns":0}"#, "platforms[0].campaigns", "must be 1..."),
        (
            #"{"kind":"shopify","shop_domain":"acme.com","currency":"USD","token_credential":"s"}"#,
            "platforms[0].shop_domain", "myshopify.com"
        ),
    ])
    func problemsNameTheKey(text: String, key: String, fragment: String) {
        guard case .failure(let p) = parse(text) else { Issue.record("accepted \(text)"); return }
        #expect(p.key == key && p.problem.contains(fragment), "\(p)")
    }
}
