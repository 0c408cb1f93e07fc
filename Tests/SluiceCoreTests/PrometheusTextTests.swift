import Testing

@testable import SluiceCore

@Suite struct PrometheusTextTests {
    @Test func labelValuesEscapeBackslashQuoteAndNewline() {
        var m = PrometheusText()
        m.family("sluice_x_total", "counter", "X.")
        m.sample("sluice_x_total", ["path": "a\\b\"c\nd"], UInt64(3))
        #expect(m.text == "# HELP sluice_x_total X.\n# TYPE sluice_x_total counter\nsluice_x_total{path=\"a\\\\b\\\"c\\nd\"} 3\n")
    }

    @Test func numbersPrintAsPrometheusReadsThem() {
        #expect(PrometheusText.number(2) == "2")
        #expect(PrometheusText.number(0.25) == "0.25")
        #expect(PrometheusText.number(.infinity) == "+Inf")
    }
}
