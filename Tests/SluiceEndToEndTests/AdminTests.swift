import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// The control plane of a running node, from outside: the admin HTTP API over real sockets,
    /// its metrics through the Python prometheus_client parser, stall supervision with the
    /// test-only stall hook, sd_notify to a fake NOTIFY_SOCKET, and `sluice top`.
    @Suite struct Admin {
        // MARK: Endpoints

        @Test func liveReadyAndPipelinesAnswerWhileTheNodeRuns() throws {
            let directory = try TemporaryDirectory()
            let (sluice, port) = try AdminHTTP.startReadyNode(["--input", "generator:count=0,rate=2000",
                                                               "--action", "json_decode", "--action", "discard:field=type,equals=view",
                                                               "--output", "file:path=\(directory.path("out.ndjson"))"], in: directory)
            let live = try AdminHTTP.get(port: port, "/live")
            #expect(live.status == 200, "\(live)")

            let pipelines = try AdminHTTP.get(port: port, "/pipelines")
            #expect(pipelines.status == 200)
            #expect(pipelines.header("Content-Type") == "application/json")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(pipelines.body.utf8)) as? [String: Any], "\(pipelines.body)")
            #expect(object["state"] as? String == "running")
            #expect(object["ready"] as? Bool == true)
            let list = try #require(object["pipelines"] as? [[String: Any]])
            #expect(list.count == 1)
            let main = try #require(list.first)
            #expect(main["name"] as? String == "main")
            #expect(main["inputs"] as? [String] == ["generator"])
            #expect(main["actions"] as? [String] == ["json_decode", "discard"])
            #expect(main["output"] as? String == "file")
            #expect(main["state"] as? String == "running")
            let counters = try #require(main["counters"] as? [String: Int])
            #expect((counters["events_in"] ?? 0) > 0, "\(counters)")
            #expect(counters["discarded"] != nil && counters["invalid_json"] != nil, "\(counters)")

            try AdminHTTP.stop(sluice)
        }

        @Test func readyAnswers503WhileTheNodeDrainsAndLiveStaysUp() throws {
            let directory = try TemporaryDirectory()
            let deadPort = try LoopbackTCP.freePort()  // nothing listens: the tcp output holds every event
            let (sluice, port) = try AdminHTTP.startReadyNode(["--shutdown-timeout", "3s", "--input", "generator:count=0,rate=200",
                                                               "--output", "tcp:address=127.0.0.1:\(deadPort)"], in: directory)
            try sluice.waitForStandardError(containing: "reconnecting", within: .seconds(10))
            sluice.send(signal: SIGTERM)
            try sluice.waitForStandardError(containing: "draining", within: .seconds(5))
            let ready = try AdminHTTP.get(port: port, "/ready")
            #expect(ready.status == 503, "\(ready)")
            #expect(ready.body.contains("stopping"), "\(ready)")
            #expect(try AdminHTTP.get(port: port, "/live").status == 200)
            let pipelines = try AdminHTTP.get(port: port, "/pipelines")
            #expect(pipelines.body.contains("\"state\":\"stopping\""), "\(pipelines.body)")
            // Held events cannot drain: the node gives up after --shutdown-timeout.
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(1))
        }

        @Test func malformedOversizedUnknownAndWrongMethodRequestsGetTheirStatus() throws {
            let directory = try TemporaryDirectory()
            let (sluice, port) = try AdminHTTP.startReadyNode(["--input", "generator:count=0,rate=100", "--output", "devnull"], in: directory)

            let garbage = try AdminHTTP.exchange(port: port, "HELLO THERE\r\n\r\n")
            #expect(garbage.status == 400, "\(garbage)")
            let noVersion = try AdminHTTP.exchange(port: port, "GET /live\r\n\r\n")
            #expect(noVersion.status == 400, "\(noVersion)")
            let badHeader = try AdminHTTP.exchange(port: port, "GET /live HTTP/1.1\r\nno colon here\r\n\r\n")
            #expect(badHeader.status == 400, "\(badHeader)")

            let big = "GET /live HTTP/1.1\r\nX-Padding: " + String(repeating: "a", count: 9000) + "\r\n\r\n"
            let tooLarge = try AdminHTTP.exchange(port: port, big)
            #expect(tooLarge.status == 413, "\(tooLarge)")
            let endless = try AdminHTTP.exchange(port: port, "GET /live HTTP/1.1\r\nX-Padding: " + String(repeating: "b", count: 20000))
            #expect(endless.status == 413, "a head that never ends is cut off at the limit: \(endless)")

            let unknown = try AdminHTTP.get(port: port, "/nope")
            #expect(unknown.status == 404, "\(unknown)")
            let post = try AdminHTTP.exchange(port: port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            #expect(post.status == 405, "\(post)")
            #expect(post.header("Allow") == "GET, HEAD", "\(post)")
            let head = try AdminHTTP.exchange(port: port, "HEAD /live HTTP/1.1\r\n\r\n")
            #expect(head.status == 200 && head.body.isEmpty && head.header("Content-Length") == "5", "\(head)")
            let query = try AdminHTTP.get(port: port, "/live?verbose=1")
            #expect(query.status == 200, "\(query)")

            #expect(try AdminHTTP.get(port: port, "/live").status == 200, "the node still answers after bad requests")
            #expect(sluice.isRunning)
            try AdminHTTP.stop(sluice)
        }

        @Test func aSlowClientDoesNotDelayOthersAndIsClosedAtItsDeadline() throws {
            let directory = try TemporaryDirectory()
            let (sluice, port) = try AdminHTTP.startReadyNode(["--input", "generator:count=0,rate=100", "--output", "devnull"], in: directory)

            // Slowloris: a request head that never ends, one byte now and then, on a few connections.
            let slow = try (0..<8).map { _ in try LoopbackTCP.connect(port: port) }
            defer { for fd in slow { close(fd) } }
            for fd in slow { try Array("GET /live HTTP/1.1\r\nX-Slow: ".utf8).withUnsafeBytes { try LoopbackTCP.sendAll(fd, $0) } }
            let opened = ContinuousClock.now
            for round in 0..<10 {
                for fd in slow { _ = send(fd, "a", 1, Int32(MSG_NOSIGNAL)) }
                let started = ContinuousClock.now
                let live = try AdminHTTP.get(port: port, "/live")
                let took = ContinuousClock.now - started
                #expect(live.status == 200, "round \(round): \(live)")
                #expect(took < .seconds(1), "round \(round): /live took \(took) beside slow clients")
                usleep(200_000)
            }
            // The server closes every slow client about 5 s after it connected.
            for fd in slow {
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var byte: UInt8 = 0
                let n = recv(fd, &byte, 1, 0)
                #expect(n <= 0, "the slow client was answered instead of closed")
            }
            let closedAfter = ContinuousClock.now - opened
            #expect(closedAfter > .seconds(3) && closedAfter < .seconds(9), "slow clients closed after \(closedAfter)")
            #expect(try AdminHTTP.get(port: port, "/live").status == 200)
            try AdminHTTP.stop(sluice)
        }

        @Test func clientsBeyondTheLimitAreTurnedAwayWith503AndTheSlotsComeBack() throws {
            let directory = try TemporaryDirectory()
            let (sluice, port) = try AdminHTTP.startReadyNode(["--input", "generator:count=0,rate=100", "--output", "devnull"], in: directory)
            var idle = try (0..<64).map { _ in try LoopbackTCP.connect(port: port) }
            usleep(200_000)  // let the control loop accept them all
            let refused = try AdminHTTP.get(port: port, "/live")
            #expect(refused.status == 503, "\(refused)")
            for fd in idle { close(fd) }
            idle = []
            try AdminHTTP.waitFor("a free admin slot", within: .seconds(5)) { try AdminHTTP.get(port: port, "/live").status == 200 }
            try AdminHTTP.stop(sluice)
        }

        @Test func adminOffListensNowhereAndABadAddressIsAConfigError() throws {
            let directory = try TemporaryDirectory()
            let port = try LoopbackTCP.freePort()
            let off = try SluiceProcess(["run", "--admin", "off", "--input", "generator:count=1000", "--output", "devnull"], in: directory)
            #expect(try off.waitForExit(within: .seconds(30)) == .exited(0))
            #expect(!off.standardError().contains("admin: listening"), "\(off.standardErrorTail())")

            let bad = try SluiceProcess(["run", "--admin", "localhost:nine", "--input", "generator:count=10", "--output", "devnull"], in: directory)
            #expect(try bad.waitForExit(within: .seconds(30)) == .exited(2))
            #expect(bad.standardError().contains("admin expects an IPv4 HOST:PORT"), "\(bad.standardErrorTail())")

            // An explicitly chosen address that is taken stops the node before it starts.
            let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(holder) }
            var address = LoopbackTCP.address(port: port)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            try #require(bound == 0 && listen(holder, 1) == 0)
            let busy = try SluiceProcess(["run", "--admin", "127.0.0.1:\(port)", "--input", "generator:count=10", "--output", "devnull"], in: directory)
            #expect(try busy.waitForExit(within: .seconds(30)) == .exited(1))
            #expect(busy.standardError().contains("--admin 127.0.0.1:\(port)"), "\(busy.standardErrorTail())")
        }

        // MARK: Metrics

        @Test func metricsParseAsPrometheusTextAndAgreeWithWhatWasDelivered() throws {
            let directory = try TemporaryDirectory()
            let port = try LoopbackTCP.freePort()
            let lines = 5000
            let input = directory.path("in.ndjson")
            var text = ""
            for i in 0..<lines { text += "{\"seq\":\(i),\"type\":\"\(i % 5 == 0 ? "view" : "click")\"}\n" }
            try text.write(toFile: input, atomically: true, encoding: .utf8)
            // A second input of the same pipeline: the per-plugin counters tell the two apart.
            let second = directory.path("in2.ndjson"), secondLines = 1000
            try String(repeating: "{\"type\":\"click\"}\n", count: secondLines).write(toFile: second, atomically: true, encoding: .utf8)
            let config = directory.path("pipelines.yaml")
            try """
            settings:
              admin: 127.0.0.1:\(port)
              workers: 2
            pipelines:
              web:
                input:
                  - {type: file, path: \(input), follow: true, offsets: \(directory.path("offsets"))}
                  - {type: file, path: \(second)}
                actions:
                  - type: json_decode
                  - {type: discard, field: type, equals: view}
                output: {type: file, path: \(directory.path("web.ndjson"))}
              gen:
                input: {type: generator, count: 300}
                output: {type: devnull}
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let sluice = try SluiceProcess(["run", "--config", config], in: directory)
            try AdminHTTP.waitForReady(port: port, sluice)
            let kept = lines - lines / 5 + secondLines
            var metrics: [PrometheusSample] = []
            try AdminHTTP.waitFor("every line delivered", within: .seconds(30)) {
                metrics = try PrometheusSample.parse(AdminHTTP.get(port: port, "/metrics").body)
                return PrometheusSample.value(metrics, "sluice_events_out_total", ["pipeline": "web"]) == Double(kept)
                    && PrometheusSample.value(metrics, "sluice_commit_lag_bytes", ["pipeline": "web"]) == 0
            }
            let response = try AdminHTTP.get(port: port, "/metrics")
            #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
            metrics = try PrometheusSample.parse(response.body)
            func value(_ name: String, _ labels: [String: String] = [:]) -> Double? { PrometheusSample.value(metrics, name, labels) }

            #expect(value("sluice_ready") == 1)
            #expect(value("sluice_events_in_total", ["pipeline": "web"]) == Double(lines + secondLines))
            #expect(value("sluice_input_events_total", ["pipeline": "web", "input": "0", "plugin": "file"]) == Double(lines))
            #expect(value("sluice_input_events_total", ["pipeline": "web", "input": "1", "plugin": "file"]) == Double(secondLines))
            #expect(value("sluice_input_bytes_total", ["pipeline": "web", "input": "1", "plugin": "file"]) == Double(secondLines * 16))
            #expect(value("sluice_input_events_total", ["pipeline": "gen", "input": "0", "plugin": "generator"]) == 300)
            #expect(value("sluice_action_dropped_total", ["pipeline": "web", "action": "0", "plugin": "json_decode"]) == 0)
            #expect(value("sluice_action_dropped_total", ["pipeline": "web", "action": "1", "plugin": "discard"]) == Double(lines / 5))
            #expect(value("sluice_action_consumed_total", ["pipeline": "web", "action": "1", "plugin": "discard"]) == 0)
            #expect(value("sluice_discarded_total", ["pipeline": "web"]) == Double(lines / 5))
            #expect(value("sluice_events_in_total", ["pipeline": "gen"]) == 300)
            #expect(value("sluice_events_out_total", ["pipeline": "gen"]) == 300)
            #expect(value("sluice_invalid_json_total", ["pipeline": "web"]) == 0)
            #expect(value("sluice_output_batches_total", ["pipeline": "web"]).map { $0 >= 1 } == true)
            #expect(value("sluice_commit_lag_bytes", ["pipeline": "web", "path": input]) == 0)
            // Every delivered (not discarded) event is in the latency histogram exactly once.
            #expect(value("sluice_event_latency_seconds_count", ["pipeline": "web"]) == Double(kept))
            #expect(value("sluice_event_latency_seconds_bucket", ["pipeline": "web", "le": "+Inf"]) == Double(kept))
            #expect(value("sluice_event_latency_seconds_count", ["pipeline": "gen"]) == 300)
            let buckets = metrics.filter { $0.name == "sluice_event_latency_seconds_bucket" && $0.labels["pipeline"] == "web" }
            #expect(buckets.count == 27, "26 finite buckets and +Inf")
            #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0.value <= $1.value }, "buckets are cumulative")
            #expect(value("sluice_event_latency_seconds_sum", ["pipeline": "web"]).map { $0 > 0 } == true)
            for w in ["0", "1"] {
                let slots = try #require(value("sluice_pool_slots", ["worker": w]))
                let free = try #require(value("sluice_pool_free_slots", ["worker": w]))
                #expect(slots > 0 && free <= slots)
                #expect(value("sluice_events_in_flight", ["worker": w]) == slots - free)
                #expect(value("sluice_worker_heartbeats_total", ["worker": w]).map { $0 > 0 } == true)
                #expect(value("sluice_worker_stalled", ["worker": w]) == 0)
                #expect(value("sluice_worker_stalls_total", ["worker": w]) == 0)
                #expect(value("sluice_worker_busy_seconds_total", ["worker": w]).map { $0 > 0 } == true)
                let ratio = try #require(value("sluice_worker_busy_ratio", ["worker": w]))
                #expect(ratio >= 0 && ratio <= 1)
            }
            #expect(value("sluice_ring_depth", ["ring": "forward", "from": "0", "to": "1"]) != nil)
            #expect(value("sluice_ring_depth", ["ring": "return", "from": "1", "to": "0"]) != nil)

            try AdminHTTP.stop(sluice)
            let summary = try sluice.summary()
            #expect(summary.count("events_out") == kept + 300, "\(summary)")
        }

        @Test func commitLagCountsTheBytesOfAFileNotYetDelivered() throws {
            let directory = try TemporaryDirectory()
            let deadPort = try LoopbackTCP.freePort()  // nothing listens: nothing is acked, nothing committed
            let input = directory.path("in.log")
            let text = String(repeating: "a line that waits for its output\n", count: 200)
            try text.write(toFile: input, atomically: true, encoding: .utf8)
            let (sluice, port) = try AdminHTTP.startReadyNode(["--shutdown-timeout", "1s",
                                                               "--input", "file:path=\(input),follow=true,offsets=\(directory.path("offsets"))",
                                                               "--output", "tcp:address=127.0.0.1:\(deadPort)"], in: directory)
            var metrics: [PrometheusSample] = []
            try AdminHTTP.waitFor("every line read", within: .seconds(15)) {
                metrics = try PrometheusSample.parse(AdminHTTP.get(port: port, "/metrics").body)
                return PrometheusSample.value(metrics, "sluice_events_in_total", ["pipeline": "main"]) == 200
            }
            #expect(PrometheusSample.value(metrics, "sluice_commit_lag_bytes", ["pipeline": "main", "path": input]) == Double(text.utf8.count))
            #expect(PrometheusSample.value(metrics, "sluice_events_out_total", ["pipeline": "main"]) == 0)
            #expect(PrometheusSample.value(metrics, "sluice_events_in_flight").map { $0 >= 200 } == true)
            #expect(PrometheusSample.value(metrics, "sluice_event_latency_seconds_count", ["pipeline": "main"]) == 0)
            // The lag in seconds grows while nothing is committed.
            usleep(2_200_000)
            let later = try PrometheusSample.parse(AdminHTTP.get(port: port, "/metrics").body)
            let lagSeconds = PrometheusSample.value(later, "sluice_commit_lag_seconds", ["pipeline": "main", "path": input])
            #expect(lagSeconds.map { $0 >= 1 } == true, "lag seconds \(String(describing: lagSeconds))")
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(1), "held events cannot drain")
        }

        /// Events an action drops behind an event the output still holds (its receiver is away)
        /// commit nothing until that event is delivered; then the whole file commits.
        @Test func droppedEventsCommitOnlyAfterTheEarlierEventTheOutputHolds() throws {
            let directory = try TemporaryDirectory()
            let receiver = try LineReceiver()
            defer { receiver.stop() }
            receiver.goAway()
            let input = directory.path("in.ndjson")
            let kept = "{\"type\":\"click\"}\n", views = 100  // fewer than a batch: the output takes them all
            let text = kept + String(repeating: "{\"type\":\"view\"}\n", count: views)
            try text.write(toFile: input, atomically: true, encoding: .utf8)
            let (sluice, port) = try AdminHTTP.startReadyNode(["--input", "file:path=\(input),follow=true,offsets=\(directory.path("offsets"))",
                                                               "--action", "json_decode", "--action", "discard:if-field=type,if-equals=view",
                                                               "--output", "tcp:address=127.0.0.1:\(receiver.port),reconnect-max=100ms"], in: directory)
            var metrics: [PrometheusSample] = []
            func value(_ name: String, _ labels: [String: String] = ["pipeline": "main"]) -> Double? { PrometheusSample.value(metrics, name, labels) }
            try AdminHTTP.waitFor("every view event dropped", within: .seconds(15)) {
                metrics = try PrometheusSample.parse(AdminHTTP.get(port: port, "/metrics").body)
                return value("sluice_discarded_total") == Double(views)
            }
            #expect(value("sluice_events_out_total") == 0)
            #expect(value("sluice_commit_lag_bytes", ["pipeline": "main", "path": input]) == Double(text.utf8.count), "nothing may commit past the held event")
            try receiver.comeBack()
            try AdminHTTP.waitFor("the held event delivered and the whole file committed", within: .seconds(15)) {
                metrics = try PrometheusSample.parse(AdminHTTP.get(port: port, "/metrics").body)
                return value("sluice_events_out_total") == 1 && value("sluice_commit_lag_bytes", ["pipeline": "main", "path": input]) == 0
            }
            try AdminHTTP.stop(sluice)
            #expect(String(decoding: receiver.receivedData(), as: UTF8.self) == kept)
        }

        // MARK: Supervision

        @Test func anInjectedStallMakesTheNodeUnreadyIsCountedAndClearsWhenTheWorkerMoves() throws {
            let directory = try TemporaryDirectory()
            let port = try LoopbackTCP.freePort()
            let sluice = try AdminHTTP.withEnvironment(["SLUICE_TEST_STALL_WORKER": "1", "SLUICE_TEST_STALL_AFTER_MS": "1500", "SLUICE_TEST_STALL_FOR_MS": "2500"]) {
                try SluiceProcess(["run", "--admin", "127.0.0.1:\(port)", "--workers", "2", "--stall-timeout", "300ms",
                                   "--input", "generator:count=0,rate=500", "--output", "devnull"], in: directory)
            }
            try AdminHTTP.waitForReady(port: port, sluice)
            try AdminHTTP.waitFor("/ready to report the stall", within: .seconds(10)) {
                let ready = try AdminHTTP.get(port: port, "/ready")
                return ready.status == 503 && ready.body.contains("worker 1 stalled")
            }
            let metrics = try PrometheusSample.parse(AdminHTTP.get(port: port, "/metrics").body)
            #expect(PrometheusSample.value(metrics, "sluice_worker_stalled", ["worker": "1"]) == 1)
            #expect(PrometheusSample.value(metrics, "sluice_worker_stalled", ["worker": "0"]) == 0)
            #expect(PrometheusSample.value(metrics, "sluice_worker_stalls_total", ["worker": "1"]) == 1)
            #expect(PrometheusSample.value(metrics, "sluice_ready") == 0)
            #expect(try AdminHTTP.get(port: port, "/live").status == 200, "a stalled worker does not stop the admin API")
            #expect(sluice.standardError().contains("worker 1 stalled"))

            try AdminHTTP.waitForReady(port: port, sluice, within: .seconds(10))
            #expect(sluice.standardError().contains("worker 1 is moving again"))
            let after = try PrometheusSample.parse(AdminHTTP.get(port: port, "/metrics").body)
            #expect(PrometheusSample.value(after, "sluice_worker_stalled", ["worker": "1"]) == 0)
            #expect(PrometheusSample.value(after, "sluice_worker_stalls_total", ["worker": "1"]) == 1, "the count stays")
            try AdminHTTP.stop(sluice)
        }

        @Test func onStallRestartRestartsTheNodeInPlaceAndItServesAgain() throws {
            let directory = try TemporaryDirectory()
            let port = try LoopbackTCP.freePort()
            let output = directory.path("out.ndjson")
            let sluice = try AdminHTTP.withEnvironment(["SLUICE_TEST_STALL_WORKER": "0", "SLUICE_TEST_STALL_AFTER_MS": "500"]) {
                try SluiceProcess(["run", "--admin", "127.0.0.1:\(port)", "--workers", "2", "--stall-timeout", "300ms", "--on-stall", "restart",
                                   "--input", "generator:count=0,rate=500", "--output", "file:path=\(output)"], in: directory)
            }
            try sluice.waitForStandardError(containing: "--on-stall=restart", within: .seconds(20))
            try AdminHTTP.waitFor("the restarted node to start", within: .seconds(15)) {
                sluice.standardError().components(separatedBy: "node: started").count == 3
            }
            #expect(sluice.isRunning, "the same process runs on")
            try AdminHTTP.waitForReady(port: port, sluice)
            // The injected stall fires once: the restarted node keeps moving and writing.
            let size = { (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0 }
            let before = size()
            try AdminHTTP.waitFor("output after the restart", within: .seconds(10)) { size() > before }
            #expect(try AdminHTTP.get(port: port, "/ready").status == 200)
            #expect(sluice.standardError().components(separatedBy: "stalled:").count == 2, "one stall only: \(sluice.standardError())")
            try AdminHTTP.stop(sluice)
        }

        @Test func onStallExitEndsTheNodeWithCode3() throws {
            let directory = try TemporaryDirectory()
            let started = ContinuousClock.now
            let sluice = try AdminHTTP.withEnvironment(["SLUICE_TEST_STALL_WORKER": "0", "SLUICE_TEST_STALL_AFTER_MS": "500"]) {
                try SluiceProcess(["run", "--admin", "off", "--workers", "2", "--stall-timeout", "300ms", "--on-stall", "exit",
                                   "--input", "generator:count=0,rate=500", "--output", "devnull"], in: directory)
            }
            #expect(try sluice.waitForExit(within: .seconds(20)) == .exited(3))
            #expect(ContinuousClock.now - started < .seconds(10))
            let stderr = sluice.standardError()
            #expect(stderr.contains("worker 0 stalled"), "\(stderr)")
            #expect(stderr.contains("--on-stall=exit"), "\(stderr)")
        }

        // MARK: Reload

        @Test func sighupKeepsTheNodeOnAnInvalidOrUnchangedConfigAndRestartsInPlaceOnAValidNewOneWithoutLoss() throws {
            let directory = try TemporaryDirectory()
            let port = try LoopbackTCP.freePort()
            let input = directory.path("in.ndjson"), output = directory.path("out.ndjson"), config = directory.path("sluice.yaml")
            try #require(FileManager.default.createFile(atPath: input, contents: nil))
            func writeConfig(batchSize: Int, extra: String = "") throws {
                try """
                settings:
                  admin: 127.0.0.1:\(port)
                  batch-size: \(batchSize)
                pipelines:
                  main:
                    input: {type: file, path: \(input), follow: true, poll-interval: 10ms, offsets: \(directory.path("offsets"))}
                    output: {type: file, path: \(output)}
                \(extra)
                """.write(toFile: config, atomically: true, encoding: .utf8)
            }
            try writeConfig(batchSize: 64)
            let (sluice, notifications) = try AdminHTTP.startNotifiedNode(config: config, in: directory, adminPort: port)

            // Load: a writer appends numbered lines the whole time.
            let total = 20_000
            let writer = NumberedLineAppender(path: input, numbers: 0..<total, linesPerChunk: 100, chunkInterval: .milliseconds(10))
            writer.start()

            sluice.send(signal: SIGHUP)
            try sluice.waitForStandardError(containing: "configuration is unchanged", within: .seconds(10))
            try writeConfig(batchSize: 128, extra: "bogus: [")
            sluice.send(signal: SIGHUP)
            try sluice.waitForStandardError(containing: "keeping the running one", within: .seconds(10))
            #expect(try AdminHTTP.get(port: port, "/ready").status == 200)
            try writeConfig(batchSize: 7, extra: "  bad-key: 1")
            sluice.send(signal: SIGHUP)
            try AdminHTTP.waitFor("the second rejection", within: .seconds(10)) {
                sluice.standardError().components(separatedBy: "keeping the running one").count == 3
            }

            try writeConfig(batchSize: 128)
            sluice.send(signal: SIGHUP)
            try sluice.waitForStandardError(containing: "restarting in place", within: .seconds(15))
            try AdminHTTP.waitFor("the restarted node to start", within: .seconds(15)) {
                sluice.standardError().components(separatedBy: "node: started").count == 3
            }
            #expect(sluice.isRunning, "the same process runs on")
            try AdminHTTP.waitForReady(port: port, sluice)
            let reload = try notifications.receive(until: { $0.contains("READY=1") }, within: .seconds(10))
            #expect(reload.first == "RELOADING=1", "RELOADING=1, then READY=1 from the restarted node: \(reload)")
            #expect(!reload.contains("STOPPING=1"), "\(reload)")

            try writer.waitUntilDone(within: .seconds(60))
            var tally = NumberTally(expected: total)
            try AdminHTTP.waitFor("every line in the output", within: .seconds(30)) {
                tally = NumberTally(file: output, expected: total)
                return tally.missingCount == 0
            }
            #expect(tally.missingCount == 0, "lost across the reload: \(tally)")
            try AdminHTTP.stop(sluice)
        }

        @Test func sighupRestartsOnlyTheChangedPipelinesWhileTheOthersRunOnWithoutLossOrDuplicates() throws {
            let directory = try TemporaryDirectory()
            let port = try LoopbackTCP.freePort(), addedPort = try LoopbackTCP.freePort()
            let keepIn = directory.path("keep.in"), changeIn = directory.path("change.in")
            let keepOut = directory.path("keep.out"), changeOut = directory.path("change.out"), addedOut = directory.path("added.out")
            let config = directory.path("sluice.yaml")
            for path in [keepIn, changeIn] { try #require(FileManager.default.createFile(atPath: path, contents: nil)) }
            // `keep` has no offsets file: restarted, it would read its file again from the start
            // and duplicate every line, so exactly-once output shows it ran on untouched.
            func writeConfig(_ changeSettings: String, added: Bool) throws {
                var text = """
                settings:
                  admin: 127.0.0.1:\(port)
                pipelines:
                  keep:
                    input: {type: file, path: \(keepIn), follow: true, poll-interval: 10ms}
                    output: {type: file, path: \(keepOut)}
                  change:
                    input: {type: file, path: \(changeIn), follow: true, poll-interval: 10ms, offsets: \(directory.path("offsets"))}
                    output: {type: file, path: \(changeOut)}
                    settings: {\(changeSettings)}

                """
                if added {
                    text += """
                      added:
                        input: {type: tcp, listen: "127.0.0.1:\(addedPort)"}
                        output: {type: file, path: \(addedOut)}

                    """
                }
                try text.write(toFile: config, atomically: true, encoding: .utf8)
            }
            try writeConfig("batch-size: 64", added: false)
            let (sluice, notifications) = try AdminHTTP.startNotifiedNode(config: config, in: directory, adminPort: port)

            // Load on both files the whole time.
            let total = 20_000
            let writers = [keepIn, changeIn].map {
                NumberedLineAppender(path: $0, numbers: 0..<total, linesPerChunk: 100, chunkInterval: .milliseconds(10))
            }
            for writer in writers { writer.start() }
            usleep(300_000)

            // `change` gets another batch size, `added` is new, `keep` is as it was.
            try writeConfig("batch-size: 16", added: true)
            sluice.send(signal: SIGHUP)
            try sluice.waitForStandardError(containing: "reload done", within: .seconds(15))
            let stderr = sluice.standardError()
            #expect(stderr.contains("restarted: change; added: added; removed: none; kept running: keep"), "\(stderr)")
            #expect(stderr.components(separatedBy: "node: started").count == 2, "no restart in place: \(stderr)")
            let reload = try notifications.receive(until: { $0.contains("READY=1") }, within: .seconds(10))
            #expect(reload.first == "RELOADING=1", "RELOADING=1, then READY=1: \(reload)")
            #expect(try AdminHTTP.get(port: port, "/ready").status == 200)
            let listing = try AdminHTTP.get(port: port, "/pipelines").body
            #expect(listing.contains("\"name\":\"added\""), "\(listing)")

            let client = try LoopbackTCP.connect(port: addedPort)
            try Array("{\"added\":1}\n".utf8).withUnsafeBytes { try LoopbackTCP.sendAll(client, $0) }
            close(client)
            try AdminHTTP.waitFor("the added pipeline's line", within: .seconds(10)) {
                String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: addedOut))) ?? Data(), as: UTF8.self) == "{\"added\":1}\n"
            }

            // Removing `added` closes its listener; the others still run on.
            try writeConfig("batch-size: 16", added: false)
            sluice.send(signal: SIGHUP)
            try AdminHTTP.waitFor("the second reload", within: .seconds(15)) {
                sluice.standardError().components(separatedBy: "reload done").count == 3
            }
            #expect(sluice.standardError().contains("removed: added; kept running: keep, change"), "\(sluice.standardError())")
            #expect(throws: (any Error).self, "the removed pipeline's port is closed") { close(try LoopbackTCP.connect(port: addedPort, within: .zero)) }
            #expect(!sluice.openFiles().contains(addedOut), "the removed pipeline's output file is closed: \(sluice.openFiles())")
            #expect(sluice.openFiles().contains(keepOut))

            for writer in writers { try writer.waitUntilDone(within: .seconds(60)) }
            try AdminHTTP.waitFor("every line in both outputs", within: .seconds(30)) {
                NumberTally(file: keepOut, expected: total).missingCount == 0 && NumberTally(file: changeOut, expected: total).missingCount == 0
            }
            let keep = NumberTally(file: keepOut, expected: total), change = NumberTally(file: changeOut, expected: total)
            #expect(keep.missingCount == 0 && change.missingCount == 0, "lost: keep \(keep), change \(change)")
            #expect(keep.duplicates == 0, "keep ran on: no line twice (\(keep))")
            #expect(change.duplicates == 0, "change resumed at its committed offset: \(change)")
            try AdminHTTP.stop(sluice)
        }

        @Test func aReloadedAggregatePipelineEmitsItsFinalRowsBeforeItsNewDefinitionStarts() throws {
            let directory = try TemporaryDirectory()
            let port = try LoopbackTCP.freePort(), inputPort = try LoopbackTCP.freePort()
            let output = directory.path("rows.ndjson"), config = directory.path("sluice.yaml")
            func writeConfig(maxKeys: Int) throws {
                try """
                settings:
                  admin: 127.0.0.1:\(port)
                pipelines:
                  totals:
                    input: {type: tcp, listen: "127.0.0.1:\(inputPort)"}
                    actions:
                      - {type: json_decode}
                      - {type: aggregate, key: k, value: v, max-keys: \(maxKeys)}
                    output: {type: file, path: \(output)}
                """.write(toFile: config, atomically: true, encoding: .utf8)
            }
            try writeConfig(maxKeys: 100)
            let sluice = try SluiceProcess(["run", "--config", config], in: directory)
            try AdminHTTP.waitForReady(port: port, sluice)
            // A client that stays connected across the reload: what it sent before is read.
            let client = try LoopbackTCP.connect(port: inputPort)
            var text = ""
            for i in 0..<1000 { text += "{\"k\":\"\(i % 2 == 0 ? "even" : "odd")\",\"v\":\(i)}\n" }
            try Array(text.utf8).withUnsafeBytes { try LoopbackTCP.sendAll(client, $0) }
            try AdminHTTP.waitFor("the 1,000 events in", within: .seconds(10)) {
                (try? AdminHTTP.get(port: port, "/pipelines").body.contains("\"events_in\":1000")) == true
            }
            try writeConfig(maxKeys: 50)
            sluice.send(signal: SIGHUP)
            try sluice.waitForStandardError(containing: "reload done", within: .seconds(15))
            #expect(sluice.standardError().contains("restarted: totals"), "\(sluice.standardError())")
            close(client)
            func rows() -> [String] {
                String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: output))) ?? Data(), as: UTF8.self).split(separator: "\n").map(String.init).sorted()
            }
            // Both workers may hold a share of each key: sum their rows.
            func totals(_ lines: [String]) -> [String: (count: Int, sum: Int)] {
                var result: [String: (count: Int, sum: Int)] = [:]
                for line in lines {
                    guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                          let k = object["k"] as? String, let count = object["count"] as? Int, let sum = object["sum"] as? Int else { continue }
                    result[k, default: (0, 0)].count += count
                    result[k, default: (0, 0)].sum += sum
                }
                return result
            }
            try AdminHTTP.waitFor("the final rows of the old definition", within: .seconds(10)) { totals(rows())["odd"]?.count == 500 }
            let before = totals(rows())
            #expect(before["even"]?.count == 500 && before["even"]?.sum == 249_500, "\(rows())")
            #expect(before["odd"]?.sum == 250_000, "\(rows())")

            let second = try LoopbackTCP.connect(port: inputPort)
            try Array("{\"k\":\"even\",\"v\":7}\n".utf8).withUnsafeBytes { try LoopbackTCP.sendAll(second, $0) }
            close(second)
            try AdminHTTP.stop(sluice)
            let after = totals(rows())
            #expect(after["even"]?.count == 501 && after["even"]?.sum == 249_507, "the new definition's row at stop: \(rows())")
        }

        @Test func aSenderThatNeverPausesDoesNotHoldUpAReloadOfItsPipeline() throws {
            let directory = try TemporaryDirectory()
            let port = try LoopbackTCP.freePort(), inputPort = try LoopbackTCP.freePort()
            let output = directory.path("out.ndjson"), config = directory.path("sluice.yaml")
            func writeConfig(batchSize: Int) throws {
                try """
                settings:
                  admin: 127.0.0.1:\(port)
                  shutdown-timeout: 1s
                pipelines:
                  busy:
                    input: {type: tcp, listen: "127.0.0.1:\(inputPort)"}
                    output: {type: file, path: \(output)}
                    settings: {batch-size: \(batchSize)}
                """.write(toFile: config, atomically: true, encoding: .utf8)
            }
            try writeConfig(batchSize: 64)
            let sluice = try SluiceProcess(["run", "--config", config], in: directory)
            try AdminHTTP.waitForReady(port: port, sluice)
            let client = try LoopbackTCP.connect(port: inputPort)
            final class Flag: @unchecked Sendable { var stop = false; var failed = false }
            let flag = Flag()
            let sender = Thread {
                var n = 0
                while !flag.stop {
                    let line = Array("{\"n\":\(n)}\n".utf8)
                    if (try? line.withUnsafeBytes({ try LoopbackTCP.sendAll(client, $0) })) == nil { flag.failed = true; return }
                    n += 1
                    usleep(2_000)
                }
            }
            sender.start()
            usleep(300_000)
            let started = ContinuousClock.now
            try writeConfig(batchSize: 32)
            sluice.send(signal: SIGHUP)
            try sluice.waitForStandardError(containing: "reload done", within: .seconds(10))
            #expect(ContinuousClock.now - started < .seconds(6), "about --shutdown-timeout, not forever")
            #expect(sluice.standardError().contains("kept sending"), "\(sluice.standardError())")
            flag.stop = true
            while !sender.isFinished { usleep(10_000) }
            close(client)
            // The restarted pipeline serves a new connection.
            let again = try LoopbackTCP.connect(port: inputPort)
            try Array("{\"after\":1}\n".utf8).withUnsafeBytes { try LoopbackTCP.sendAll(again, $0) }
            close(again)
            try AdminHTTP.waitFor("the line sent after the reload", within: .seconds(10)) {
                String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: output))) ?? Data(), as: UTF8.self).contains("{\"after\":1}")
            }
            try AdminHTTP.stop(sluice)
        }

        @Test func aPipelineThatCannotStartOnReloadIsReportedAndTheOthersRunOn() throws {
            let directory = try TemporaryDirectory()
            let port = try LoopbackTCP.freePort()
            let input = directory.path("in.ndjson"), output = directory.path("out.ndjson"), config = directory.path("sluice.yaml")
            let badOffsets = directory.path("bad.offsets")
            try Data("{\"n\":1}\n".utf8).write(to: URL(fileURLWithPath: input))
            func writeConfig(_ extra: String) throws {
                try """
                settings:
                  admin: 127.0.0.1:\(port)
                pipelines:
                  main:
                    input: {type: file, path: \(input), follow: true, poll-interval: 10ms}
                    output: {type: file, path: \(output)}
                \(extra)
                """.write(toFile: config, atomically: true, encoding: .utf8)
            }
            try writeConfig("")
            let sluice = try SluiceProcess(["run", "--config", config], in: directory)
            try AdminHTTP.waitForReady(port: port, sluice)
            try sluice.waitForFile(output, toReach: 8, within: .seconds(10))
            // `bad` opens its input (and its offsets entry) and then fails on its output.
            try writeConfig("""
                  bad:
                    input: {type: file, path: \(input), follow: true, offsets: \(badOffsets)}
                    output: {type: file, path: \(directory.path("missing/dir/out.ndjson"))}
                """)
            sluice.send(signal: SIGHUP)
            try sluice.waitForStandardError(containing: "reload done", within: .seconds(15))
            let stderr = sluice.standardError()
            #expect(stderr.contains("reload: pipeline bad is not running"), "\(stderr)")
            #expect(stderr.contains("not running: bad"), "\(stderr)")
            #expect(try AdminHTTP.get(port: port, "/ready").status == 200)
            #expect(!(try AdminHTTP.get(port: port, "/pipelines").body.contains("\"name\":\"bad\"")), "a pipeline that is not running is not listed")
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: input))
            handle.seekToEndOfFile()
            handle.write(Data("{\"n\":2}\n".utf8))
            try handle.close()
            try sluice.waitForFile(output, toReach: 16, within: .seconds(10))
            try AdminHTTP.stop(sluice)
            #expect(!FileManager.default.fileExists(atPath: badOffsets), "no offsets are kept for a pipeline that never ran")
        }

        // MARK: systemd

        @Test func sdNotifyReachesAnAbstractNotifySocketWithReadyWatchdogAndStopping() throws {
            let directory = try TemporaryDirectory()
            let name = "sluice-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let socket = try NotifySocket(abstractName: name)
            let sluice = try AdminHTTP.withEnvironment(["NOTIFY_SOCKET": "@\(name)", "WATCHDOG_USEC": "600000"]) {
                try SluiceProcess(["run", "--admin", "off", "--input", "generator:count=0,rate=200", "--output", "devnull"], in: directory)
            }
            let ready = try socket.receive(until: { $0.contains("READY=1") }, within: .seconds(10))
            #expect(ready.first?.contains("READY=1") == true, "READY=1 comes first: \(ready)")
            let pings = try socket.receive(until: { $0 == "WATCHDOG=1" }, within: .seconds(5))
            #expect(pings.last == "WATCHDOG=1")
            sluice.send(signal: SIGTERM)
            let stopping = try socket.receive(until: { $0.contains("STOPPING=1") }, within: .seconds(10))
            #expect(stopping.last?.contains("STOPPING=1") == true)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
        }

        @Test func watchdogPingsPauseWhileAWorkerIsStalledAndResumeAfterwards() throws {
            let directory = try TemporaryDirectory()
            let path = directory.path("notify.sock")
            let socket = try NotifySocket(path: path)
            let sluice = try AdminHTTP.withEnvironment(["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000",
                                                        "SLUICE_TEST_STALL_WORKER": "0", "SLUICE_TEST_STALL_AFTER_MS": "1500", "SLUICE_TEST_STALL_FOR_MS": "3000"]) {
                try SluiceProcess(["run", "--admin", "off", "--workers", "2", "--stall-timeout", "300ms",
                                   "--input", "generator:count=0,rate=200", "--output", "devnull"], in: directory)
            }
            _ = try socket.receive(until: { $0.contains("READY=1") }, within: .seconds(10))
            _ = try socket.receive(until: { $0 == "WATCHDOG=1" }, within: .seconds(5))
            try sluice.waitForStandardError(containing: "worker 0 stalled", within: .seconds(10))
            // One ping may have been on its way when the stall was noticed.
            usleep(300_000)
            _ = socket.drain()
            usleep(1_000_000)
            let duringStall = socket.drain()
            #expect(!duringStall.contains("WATCHDOG=1"), "no watchdog ping while stalled: \(duringStall)")
            try sluice.waitForStandardError(containing: "worker 0 is moving again", within: .seconds(10))
            _ = try socket.receive(until: { $0 == "WATCHDOG=1" }, within: .seconds(5))
            try AdminHTTP.stop(sluice)
        }

        // MARK: top

        @Test func topOncePrintsOneFrameWithEachPipelinesRates() throws {
            let directory = try TemporaryDirectory()
            let (sluice, port) = try AdminHTTP.startReadyNode(["--input", "generator:count=0,rate=2000",
                                                               "--output", "file:path=\(directory.path("out.ndjson"))"], in: directory)
            let top = try SluiceProcess(["top", "--admin", "127.0.0.1:\(port)", "--once"], in: directory)
            #expect(try top.waitForExit(within: .seconds(15)) == .exited(0), "\(top.standardErrorTail())")
            let frame = String(decoding: top.standardOutput(), as: UTF8.self)
            let lines = frame.split(separator: "\n")
            #expect(lines.first?.contains("ready") == true, "\(frame)")
            #expect(lines.contains { $0.hasPrefix("PIPELINE") && $0.contains("p99 ms") }, "\(frame)")
            let row = try #require(lines.first { $0.hasPrefix("main ") }, "\(frame)")
            let cells = row.split(separator: " ")
            let eventsIn = try #require(Double(cells[1]), "\(row)")
            #expect(eventsIn > 500 && eventsIn < 4000, "about 2000 events/s in: \(row)")
            #expect(cells[7] != "-", "a p50 latency: \(row)")
            #expect(lines.contains { $0.hasPrefix("pool:") }, "\(frame)")
            try AdminHTTP.stop(sluice)

            let unreachable = try SluiceProcess(["top", "--admin", "127.0.0.1:\(port)", "--once"], in: directory)
            #expect(try unreachable.waitForExit(within: .seconds(15)) == .exited(1))
            #expect(unreachable.standardError().contains("cannot connect"), "\(unreachable.standardErrorTail())")
        }
    }
}

/// Raw HTTP/1.1 over loopback sockets, so the tests control every byte sent.
enum AdminHTTP {
    struct Response: CustomStringConvertible {
        var status: Int
        var head: String
        var body: String

        func header(_ name: String) -> String? {
            for line in head.split(separator: "\r\n").dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == name.lowercased() { return parts[1].trimmingCharacters(in: .whitespaces) }
            }
            return nil
        }

        var description: String { "\(head)\n\n\(body.prefix(500))" }
    }

    /// Sends `request` (the client then half-closes), reads the whole response.
    static func exchange(port: UInt16, _ request: String, timeout: Int = 10) throws -> Response {
        let fd = try LoopbackTCP.connect(port: port)
        defer { close(fd) }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        // A large request may be cut off by the server's answer; what matters is that answer.
        _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            received.append(contentsOf: chunk[0..<n])
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else {
            throw LoopbackTCP.Failure(description: "no HTTP response to \(request.prefix(60).debugDescription): got \(text.prefix(200).debugDescription)")
        }
        let head = String(text[..<split.lowerBound])
        let fields = head.split(separator: " ", maxSplits: 2)
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/1.1"), let status = Int(fields[1]) else {
            throw LoopbackTCP.Failure(description: "bad status line: \(head.prefix(100))")
        }
        return Response(status: status, head: head, body: String(text[split.upperBound...]))
    }

    static func get(port: UInt16, _ path: String) throws -> Response {
        try exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUser-Agent: sluice-tests\r\n\r\n")
    }

    /// `waitUntil`, but a condition that throws (the node not answering yet) is tried again.
    static func waitFor(_ what: String, within timeout: Duration, _ condition: () throws -> Bool) throws {
        var lastError: Error?
        try waitUntil("\(what)\(lastError.map { " (last error: \($0))" } ?? "")", within: timeout) {
            do { return try condition() } catch {
                lastError = error
                return false
            }
        }
    }

    /// `sluice run --admin 127.0.0.1:PORT ARGUMENTS` on a free port, once /ready answers 200.
    static func startReadyNode(_ arguments: [String], in directory: TemporaryDirectory) throws -> (SluiceProcess, UInt16) {
        let port = try LoopbackTCP.freePort()
        let sluice = try SluiceProcess(["run", "--admin", "127.0.0.1:\(port)"] + arguments, in: directory)
        try waitForReady(port: port, sluice)
        return (sluice, port)
    }

    /// `sluice run --config CONFIG` (whose admin API is on `adminPort`) with NOTIFY_SOCKET set,
    /// once /ready answers 200 and READY=1 arrived; later notifications are read from the socket.
    static func startNotifiedNode(config: String, in directory: TemporaryDirectory, adminPort: UInt16) throws -> (SluiceProcess, NotifySocket) {
        let notifications = try NotifySocket(path: directory.path("notify.sock"))
        let sluice = try withEnvironment(["NOTIFY_SOCKET": directory.path("notify.sock")]) {
            try SluiceProcess(["run", "--config", config], in: directory)
        }
        try waitForReady(port: adminPort, sluice)
        _ = try notifications.receive(until: { $0.contains("READY=1") }, within: .seconds(10))
        return (sluice, notifications)
    }

    /// SIGTERM, then the node must drain and exit 0.
    static func stop(_ sluice: SluiceProcess, sourceLocation: SourceLocation = #_sourceLocation) throws {
        sluice.send(signal: SIGTERM)
        #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0), sourceLocation: sourceLocation)
    }

    static func waitForReady(port: UInt16, _ sluice: SluiceProcess, within timeout: Duration = .seconds(15)) throws {
        do {
            try waitFor("GET /ready → 200", within: timeout) {
                guard sluice.isRunning else { throw LoopbackTCP.Failure(description: "sluice exited") }
                return try get(port: port, "/ready").status == 200
            }
        } catch {
            throw LoopbackTCP.Failure(description: "\(error). stderr:\n\(sluice.standardErrorTail())")
        }
    }

    /// Starts a process with extra environment variables: the child inherits the runner's
    /// environment at spawn time, and the end-to-end suite runs one test at a time.
    static func withEnvironment<T>(_ variables: [String: String], _ body: () throws -> T) rethrows -> T {
        for (name, value) in variables { setenv(name, value, 1) }
        defer { for name in variables.keys { unsetenv(name) } }
        return try body()
    }
}

/// One sample of a /metrics page as the Python prometheus_client parser reads it.
struct PrometheusSample: Decodable {
    var name: String
    var labels: [String: String]
    var value: Double

    static let parser = """
        import json, sys
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            sys.stderr.write("MISSING prometheus_client\\n")
            sys.exit(3)
        out = []
        for family in text_string_to_metric_families(sys.stdin.read()):
            for s in family.samples:
                out.append({"name": s.name, "labels": s.labels, "value": s.value})
        json.dump(out, sys.stdout)
        """

    /// Parses with `python3` and prometheus_client; fails with the fix when the module is missing.
    static func parse(_ text: String) throws -> [PrometheusSample] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", parser]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
        try input.fileHandleForWriting.close()
        let json = output.fileHandleForReading.readDataToEndOfFile()
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 3 && problems.contains("MISSING prometheus_client") {
            throw LoopbackTCP.Failure(description: "the Python module prometheus_client is missing, so /metrics cannot be checked: install it with `pip install prometheus_client` or `apt-get install python3-prometheus-client`")
        }
        guard process.terminationStatus == 0 else {
            throw LoopbackTCP.Failure(description: "prometheus_client rejected /metrics (exit \(process.terminationStatus)): \(problems.suffix(2000))\n--- metrics:\n\(text.prefix(3000))")
        }
        return try JSONDecoder().decode([PrometheusSample].self, from: json)
    }

    static func value(_ samples: [PrometheusSample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }
}

/// A fake systemd notification socket: a unix datagram socket the node sends to.
final class NotifySocket {
    let fd: Int32

    init(abstractName: String) throws {
        fd = try NotifySocket.bound(Array(abstractName.utf8), abstract: true)
    }

    init(path: String) throws {
        fd = try NotifySocket.bound(Array(path.utf8), abstract: false)
    }

    deinit { close(fd) }

    private static func bound(_ name: [UInt8], abstract: Bool) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw LoopbackTCP.Failure(description: "socket(AF_UNIX): errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = abstract ? [0] + name : name
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else {
            close(fd)
            throw LoopbackTCP.Failure(description: "bind notify socket: errno \(errno)")
        }
        return fd
    }

    /// Datagrams until one satisfies `done` (included, last); throws on timeout.
    func receive(until done: (String) -> Bool, within timeout: Duration) throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        var messages: [String] = []
        while ContinuousClock.now < deadline {
            if let m = next(waitMillis: 50) {
                messages.append(m)
                if done(m) { return messages }
            }
        }
        throw LoopbackTCP.Failure(description: "no matching notification within \(timeout); got \(messages)")
    }

    /// Everything queued now.
    func drain() -> [String] {
        var messages: [String] = []
        while let m = next(waitMillis: 0) { messages.append(m) }
        return messages
    }

    private func next(waitMillis: Int32) -> String? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, waitMillis) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }
}

extension EndToEndTests.Admin {
    /// `/pipelines/NAME/ACTION/sample` shows the next event before and after one action.
    @Test func sampleShowsTheNextEventBeforeAndAfterAnAction() throws {
        let directory = try TemporaryDirectory()
        let (sluice, port) = try AdminHTTP.startReadyNode(["--input", "generator:count=0,rate=500", "--action", "json_decode",
                                                           "--action", "modify:field=env,value=prod", "--output", "devnull"], in: directory)
        let response = try AdminHTTP.get(port: port, "/pipelines/main/1/sample")
        #expect(response.status == 200, "\(response)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any], "\(response.body)")
        #expect(object["verdict"] as? String == "pass")
        #expect(object["action"] as? Int == 1)
        let before = try #require(object["before"] as? String)
        let after = try #require(object["after"] as? String)
        let beforeFields = try #require(try JSONSerialization.jsonObject(with: Data(before.utf8)) as? [String: Any])
        let afterFields = try #require(try JSONSerialization.jsonObject(with: Data(after.utf8)) as? [String: Any])
        #expect(beforeFields["env"] == nil)
        #expect(afterFields["env"] as? String == "prod")
        #expect(afterFields["seq"] as? Int == beforeFields["seq"] as? Int)

        #expect(try AdminHTTP.get(port: port, "/pipelines/main/7/sample").status == 404)
        #expect(try AdminHTTP.get(port: port, "/pipelines/nope/0/sample").status == 404)
        // The endpoint can be used again right away.
        #expect(try AdminHTTP.get(port: port, "/pipelines/main/0/sample").status == 200)
        try AdminHTTP.stop(sluice)
    }

    /// With no event flowing, the sample request ends in 504 and /live keeps answering meanwhile.
    @Test func sampleTimesOutWith504WhenNoEventArrivesWithoutStallingTheNode() throws {
        let directory = try TemporaryDirectory()
        let (sluice, port) = try AdminHTTP.startReadyNode(["--input", "tcp:listen=127.0.0.1:\(try LoopbackTCP.freePort())",
                                                           "--action", "json_decode", "--output", "devnull"], in: directory)
        let group = DispatchGroup()
        group.enter()
        nonisolated(unsafe) var status = 0
        Thread { status = (try? AdminHTTP.exchange(port: port, "GET /pipelines/main/0/sample HTTP/1.1\r\nHost: x\r\n\r\n", timeout: 15).status) ?? -1; group.leave() }.start()
        usleep(300_000)
        #expect(try AdminHTTP.get(port: port, "/live").status == 200)
        group.wait()
        #expect(status == 504)
        try AdminHTTP.stop(sluice)
    }
}
