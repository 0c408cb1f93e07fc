import CSupport
import Glibc

/// How the postgres output reads PostgreSQL's errors: which refuse rows for good (they go to
/// the dead-letter file) and which are retried, the server's words for the log and the
/// dead-letter line, and which row of a COPY the server refused.
enum PostgresErrors {
    /// SQLSTATE classes that mean the row itself is wrong: 22 (data exception: a value that
    /// does not parse or fit its column, bad UTF-8, a NUL) and 23 (integrity constraint: NOT
    /// NULL, unique, check, foreign key); and 54000 (a value too large for an index). Every
    /// other error (the table or a column missing, permissions, the server shutting down, out
    /// of disk) is retried: the rows would fit once it is fixed.
    static func refusesRows(_ sqlState: String) -> Bool {
        sqlState.hasPrefix("22") || sqlState.hasPrefix("23") || sqlState == "54000"
    }

    /// A failed result as the batcher's verdict.
    static func verdict(_ result: OpaquePointer) -> SinkResponse {
        let state = field(result, "C") ?? ""
        let reason = reason(result)
        if refusesRows(state) { return .rejected(reason, line: copyLine(field(result, "W"))) }
        return .retry(afterNanos: 0, reason: reason)
    }

    /// `ERROR 22P02: invalid input syntax for type integer: "x" (DETAIL …)`, one line, bounded.
    static func reason(_ result: OpaquePointer) -> String {
        var text = (field(result, "V") ?? field(result, "S") ?? "ERROR") + " " + (field(result, "C") ?? "?????") + ": "
        text += field(result, "M") ?? String(cString: PQresultErrorMessage(result))
        if let detail = field(result, "D") { text += " (" + detail + ")" }
        return oneLine(text)
    }

    /// The row a COPY error names, 0-based: `COPY t, line 3, column n: "x"` is row 2; nil when
    /// the context names none (an error after the COPY, or a server whose messages are
    /// translated), and the batch is halved instead.
    static func copyLine(_ context: String?) -> Int? {
        guard let context else { return nil }
        for line in context.split(separator: "\n") where line.hasPrefix("COPY ") {
            guard let marker = line.firstRange(of: ", line ") else { continue }
            let digits = line[marker.upperBound...].prefix(while: { $0.isASCII && $0.isNumber })
            guard let n = Int(digits), n >= 1 else { continue }
            return n - 1
        }
        return nil
    }

    /// An error field of a result (`PQresultErrorField`), or nil.
    static func field(_ result: OpaquePointer, _ code: Character) -> String? {
        guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
        return String(cString: value)
    }

    /// libpq's message about the connection, one line.
    static func message(_ connection: OpaquePointer?) -> String {
        guard let connection, let text = PQerrorMessage(connection), text.pointee != 0 else { return "the connection failed" }
        return oneLine(String(cString: text))
    }

    /// Longest server text carried into logs and dead-letter reasons.
    static let reasonBytesLimit = DeadLetterQueue.reasonBytesLimit - 20

    static func oneLine(_ text: String) -> String {
        var out = String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : $0 })
        while out.last == " " { out.removeLast() }
        if out.utf8.count > reasonBytesLimit { out = String(decoding: Array(out.utf8.prefix(reasonBytesLimit)), as: UTF8.self) + "…" }
        return out
    }
}
