import Foundation

/// The intraday figure of `adpilotctl simulate --svg`: mean cumulative spend as a share of
/// the daily target by hour, per policy, against the pacer's plan (dashed).
extension SimulationReport {
    package var svg: String {
        let (w, h, left, right, top, bottom) = (720.0, 420.0, 60.0, 170.0, 30.0, 40.0)
        let plotW = w - left - right, plotH = h - top - bottom
        let yMax = max(1.3, (policies.flatMap { $0.intraday + $0.plan }.max() ?? 1) * 1.05)
        func x(_ hour: Int) -> Double { left + plotW * Double(hour) / 24 }
        func y(_ share: Double) -> Double { top + plotH * (1 - share / yMax) }
        func path(_ values: [Double]) -> String {
            values.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y($0.element)) }.joined(separator: " ")
        }
        let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
        var out = [
            ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(w))" height="\##(Int(h))" "##
                + ##"font-family="sans-serif" font-size="12">"##,
            ##"<rect width="100%" height="100%" fill="white"/>"##,
            ##"<text x="\##(Int(left))" y="18">Cumulative spend / daily target, mean over "##
                + ##"\##(campaigns) campaigns x \##(days) days x \##(seeds.count) seed(s)</text>"##,
        ]
        for share in stride(from: 0.0, through: yMax, by: 0.25) {
            out.append(
                String(
                    format: ##"<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>"##, left, left + plotW,
                    y(share), y(share)))
            out.append(
                String(
                    format: ##"<text x="%.0f" y="%.1f" text-anchor="end">%.2f</text>"##, left - 6, y(share) + 4,
                    share))
        }
        for hour in stride(from: 0, through: 24, by: 3) {
            out.append(
                String(
                    format: ##"<text x="%.1f" y="%.0f" text-anchor="middle">%02d:00</text>"##, x(hour), h - 18, hour))
        }
        if let plan = policies.first?.plan, plan.count == 25 {
            out.append(##"<polyline fill="none" stroke="black" stroke-dasharray="5,4" points="\##(path(plan))"/>"##)
            out.append(##"<text x="\##(Int(w - right + 10))" y="\##(Int(top + 10))">plan (pacer)</text>"##)
        }
        for (i, p) in policies.enumerated() where p.intraday.count == 25 {
            let c = colours[i % colours.count]
            out.append(##"<polyline fill="none" stroke="\##(c)" stroke-width="2" points="\##(path(p.intraday))"/>"##)
            let y = Int(top + 30) + 20 * i
            out.append(##"<text x="\##(Int(w - right + 10))" y="\##(y)" fill="\##(c)">\##(p.policy)</text>"##)
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }
}
