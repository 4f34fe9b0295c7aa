import AdPilotControl
import AdPilotJournal
import AdPilotPlatforms

/// The embedded default that `adpilotd --demo` runs and `--print-default-config` prints:
/// the simulator on an accelerated clock, the shipped learned policy staged as candidate
/// in shadow (nothing writes until it is promoted), and limits sized for a demo.
package enum DefaultConfig {
    package static let demoCampaigns = 20
    package static let demoSpeed = 360.0
    /// Account-wide caps grow with the number of simulated campaigns.
    static let accountCapPerCampaignMicros: Int64 = 1_500_000_000
    static let spendAtRiskPerCampaignMicros: Int64 = 300_000_000

    package static let text = """
        {
          "version": 1,
          "tick_seconds": 600,
          "clock": {"kind": "accelerated", "speed": 360},
          "operators_group": null,
          "policy_dirs": ["/usr/share/adpilot/policies"],
          "slots": {"live": null, "candidate": "qlearn@1"},
          "platform": {"kind": "simulator", "seed": 1, "campaigns": 20},
          "journal": {"segment_bytes_max": 67108864, "seal_interval": 1000, "key_credential": null},
          "metrics": {"textfile_path": null},
          "account": {
            "daily_cap_micros": 30000000000,
            "max_spend_at_risk_micros": 6000000000,
            "overdelivery_basis_points": 2500,
            "utc_offset_seconds": 0,
            "stale_after_seconds": 10800
          },
          "pacer": {
            "pace": {"kp": 1.2, "ki": 0.15, "kd": 0.05, "integral_max": 0.5, "output_min": -0.8, "output_max": 1.0},
            "efficiency": {
              "kp": 0.6, "ki": 0.05, "kd": 0.0, "integral_max": 0.4, "output_min": -0.8, "output_max": 0.5
            },
            "profile": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
            "profile_mode": "learned",
            "profile_prior_days": 1,
            "efficiency_conversions_min": 5,
            "efficiency_z": 1,
            "policy_authority": 0.1
          },
          "breaker": {
            "window": {"calls": 20},
            "minimum_calls": 5,
            "failure_rate_threshold": 0.5,
            "wait_in_open_seconds": 300,
            "permitted_calls_in_half_open": 3
          },
          "anomaly": {
            "robust_z_warn": 5,
            "robust_z_critical": 10,
            "baseline_days_min": 3,
            "rate_spread": 0.3,
            "outage_expected_conversions": 10,
            "raise_after_hours": 2,
            "clear_after_hours": 3,
            "account_halt_share": 0.2,
            "account_halt_campaigns_min": 3
          },
          "campaign_defaults": {
            "daily_target_micros": 300000000,
            "efficiency_target": {"roas": 2.0},
            "guardrails": {
              "bounds": {"min_micros": 20000000, "max_micros": 1000000000},
              "hourly_bounds": null,
              "max_step_fraction": 0.25,
              "canary_max_step_fraction": 0.1,
              "max_step_floor_micros": 5000000,
              "daily_cap_micros": 1500000000,
              "no_conversion_window_hours": 24,
              "roas_floor": 1.0,
              "roas_floor_spend_min_micros": 100000000,
              "cooldown_seconds": 3600
            }
          },
          "campaigns": [],
          "canary": {"budget_fraction": 0.2},
          "gates": {
            "shadow_to_canary": {
              "hours_min": 2, "decisions_min": 100, "veto_rate_max": 0.5,
              "value_margin": 0.02, "effective_sample_size_min": 30
            },
            "canary_to_live": {
              "hours_min": 3, "profit_margin": 1.5, "alpha": 0.05, "horizon_hours": 24,
              "cohort_hours_min": 12, "pacing_error_max": 0.5, "failure_limit": 3
            }
          },
          "exploration": {"scale": 0.05, "seed": 1}
        }
        """

    /// The demo with a policy writing from the first tick (`pace@1` live, no cooldown): what
    /// the benchmarks and the controller tests measure.
    package static let liveWritingOverlay =
        #"{"slots": {"live": "pace@1"}, "campaign_defaults": {"guardrails": {"cooldown_seconds": 0}}}"#

    /// The demo config for `--demo [--campaigns N] [--speed S]`, with `extraPolicyDirs`
    /// searched after the configured ones, and `overlay` then `overlays` (JSON objects, merged last) for
    /// benchmarks and tests that need a variant, e.g. `{"slots": {"live": "pace@1"}}`.
    package static func demo(
        campaigns: Int = demoCampaigns, speed: Double = demoSpeed,
        extraPolicyDirs: [String] = [], overlay: String? = nil, overlays more: [String] = []
    ) throws(ConfigProblem) -> ServiceConfig {
        var json: JSON
        do {
            json = try JSON.parse(Array(text.utf8))
        } catch {
            preconditionFailure("the embedded default config does not parse: \(error)")
        }
        let n = Int64(campaigns)
        let dirs = [ShippedPolicies.systemDirectory] + extraPolicyDirs
        json = json.merged(
            with: .object([
                ("clock", .object([("speed", .number(String(speed)))])),
                ("platform", .object([("campaigns", .number(String(n)))])),
                ("policy_dirs", .array(dirs.map { JSON.string($0) })),
                (
                    "account",
                    .object([
                        ("daily_cap_micros", .number(String(n * accountCapPerCampaignMicros))),
                        ("max_spend_at_risk_micros", .number(String(n * spendAtRiskPerCampaignMicros))),
                    ])
                ),
            ]))
        for overlay in (overlay.map { [$0] } ?? []) + more {
            do {
                json = json.merged(with: try JSON.parse(Array(overlay.utf8)))
            } catch {
                throw ConfigProblem(key: "", problem: "overlay: \(error)")
            }
        }
        return try ServiceConfig.parse(json)
    }
}
