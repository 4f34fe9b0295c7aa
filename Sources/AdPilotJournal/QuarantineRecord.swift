package import AdPilotCore

/// A campaign entering or leaving quarantine (kind `quarantine`): held by its own anomaly,
/// alone, while the rest of the account goes on (docs/decision-pipeline.md, the anomaly layer).
package struct QuarantineRecord: Codable, Sendable {
    package enum Action: String, Codable, Sendable {
        /// The detector's level became critical: the campaign holds its budget.
        case enter
        /// The level cleared after its quiet hours (actor `system`), or an operator released it.
        case release
    }

    package let campaign: CampaignID
    package let action: Action
    package let actor: Actor
    package let actorName: String
    package let reason: String
    /// What the detector found (on enter), empty on release.
    package let findings: [Finding]

    package init(campaign: CampaignID, action: Action, actor: Actor, reason: String, findings: [Finding] = []) {
        self.campaign = campaign
        self.action = action
        self.actor = actor
        actorName = actor.description
        self.reason = reason
        self.findings = findings
    }
}
