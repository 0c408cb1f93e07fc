/// A point in time: seconds since 1970-01-01T00:00:00Z and nanoseconds into that second.
struct Instant: Equatable {
    var seconds: Int64
    var nanos: Int32
}

/// Calendar arithmetic by hand (proleptic Gregorian, UTC): no libc, no Foundation.
enum Civil {
    /// Days since 1970-01-01 of a civil date (any year; `month` 1–12, `day` 1–31).
    static func days(year: Int64, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    /// The civil date of a day count since 1970-01-01.
    static func date(days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func isLeap(_ year: Int64) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int, year: Int64) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Floor division of seconds into days and the seconds left in that day.
    static func split(_ seconds: Int64) -> (days: Int64, secondOfDay: Int64) {
        var days = seconds / 86400
        var rest = seconds % 86400
        if rest < 0 { rest += 86400; days -= 1 }
        return (days, rest)
    }
}

/// One directive or literal of a strftime-style layout, compiled once at configuration time.
enum LayoutToken: Equatable {
    case literal(UInt8)
    /// A space in the layout: one or more spaces or tabs.
    case spaces
    case year4, year2, month, monthName, day, daySpaced, dayOfYear, hour24, hour12, minute, second, amPm
    /// `%f`: 1–9 fraction digits; `%L`: exactly 3 (milliseconds).
    case fraction, millis
    /// `%z`: `Z`, `±HH:MM`, `±HHMM` or `±HH`; `%Z`: `UTC`, `GMT` or `Z`.
    case offset, zoneName
    /// `%a`/`%A`: a weekday name, read and ignored.
    case weekdayName
    /// `%s`: seconds since the epoch.
    case epochSeconds
}

/// A strftime-style layout (`%Y-%m-%d %H:%M:%S.%f %z`) that parses times by hand.
///
/// Directives: `%Y` (4-digit year) `%y` (2 digits, 1969–2068) `%m` `%d` `%e` (day, space
/// padded) `%j` (day of year) `%H` `%I` + `%p` (AM/PM) `%M` `%S` `%f` (1–9 fraction digits)
/// `%L` (3 digits) `%z` (`Z`, `+03:00`, `+0300`, `+03`) `%Z` (`UTC`/`GMT`/`Z` only) `%b`/`%h`
/// `%B` (month name, English, any case, abbreviated or full) `%a`/`%A` (weekday name, ignored)
/// `%s` (epoch seconds) and the shorthands `%F` (`%Y-%m-%d`), `%T` (`%H:%M:%S`), `%R`, `%D`
/// (`%m/%d/%y`); `%%` is a percent sign, `%n`/`%t` and a space match one or more blanks.
/// Without a year the year is the one the event was received in (the previous one when that
/// would put the time more than a month after receipt, for December lines read in January);
/// without a zone the action's `timezone` applies.
struct TimeLayout {
    let tokens: [LayoutToken]
    let hasYear: Bool

    static let rfc3164 = try! TimeLayout("%b %e %H:%M:%S")

    init(_ text: String) throws(PluginArgumentError) {
        var out: [LayoutToken] = []
        var bytes = Array(text.utf8)[...]
        while let c = bytes.popFirst() {
            if c == 32 || c == 9 { out.append(.spaces); continue }
            guard c == 37 else { out.append(.literal(c)); continue }
            guard let d = bytes.popFirst() else { throw PluginArgumentError(key: "from", "layout '\(text)' ends with a lone %") }
            switch d {
            case UInt8(ascii: "Y"): out.append(.year4)
            case UInt8(ascii: "y"): out.append(.year2)
            case UInt8(ascii: "m"): out.append(.month)
            case UInt8(ascii: "b"), UInt8(ascii: "h"), UInt8(ascii: "B"): out.append(.monthName)
            case UInt8(ascii: "d"): out.append(.day)
            case UInt8(ascii: "e"): out.append(.daySpaced)
            case UInt8(ascii: "j"): out.append(.dayOfYear)
            case UInt8(ascii: "H"): out.append(.hour24)
            case UInt8(ascii: "I"): out.append(.hour12)
            case UInt8(ascii: "p"): out.append(.amPm)
            case UInt8(ascii: "M"): out.append(.minute)
            case UInt8(ascii: "S"): out.append(.second)
            case UInt8(ascii: "f"): out.append(.fraction)
            case UInt8(ascii: "L"): out.append(.millis)
            case UInt8(ascii: "z"): out.append(.offset)
            case UInt8(ascii: "Z"): out.append(.zoneName)
            case UInt8(ascii: "a"), UInt8(ascii: "A"): out.append(.weekdayName)
            case UInt8(ascii: "s"): out.append(.epochSeconds)
            case UInt8(ascii: "F"): out += [.year4, .literal(45), .month, .literal(45), .day]
            case UInt8(ascii: "T"): out += [.hour24, .literal(58), .minute, .literal(58), .second]
            case UInt8(ascii: "R"): out += [.hour24, .literal(58), .minute]
            case UInt8(ascii: "D"): out += [.month, .literal(47), .day, .literal(47), .year2]
            case UInt8(ascii: "n"), UInt8(ascii: "t"): out.append(.spaces)
            case 37: out.append(.literal(37))
            default:
                let offset = text.utf8.count - bytes.count - 2
                throw PluginArgumentError(key: "from", "layout '\(text)': unknown directive %\(Character(Unicode.Scalar(d))) at offset \(offset) (known: %Y %y %m %d %e %j %H %I %p %M %S %f %L %z %Z %b %B %h %a %A %s %F %T %R %D %n %t %%)")
            }
        }
        let directives = out.filter {
            if case .literal = $0 { return false }
            return $0 != .spaces
        }
        guard !directives.isEmpty else {
            throw PluginArgumentError(key: "from", "layout '\(text)' has no % directive")
        }
        if out.contains(.hour12) != out.contains(.amPm) {
            throw PluginArgumentError(key: "from", "layout '\(text)': %I and %p go together")
        }
        tokens = out
        hasYear = out.contains(.year4) || out.contains(.year2) || out.contains(.epochSeconds)
    }
}

/// Parses one value against a compiled layout; the event path's half of `TimeLayout`.
struct LayoutParser {
    let tokens: UnsafePointer<LayoutToken>
    let count: Int
    let hasYear: Bool

    static let monthNames: [UInt32] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"].map(pack3)
    static let monthFullNames = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                                 "november", "december"]
    static let dayNames: [UInt32] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map(pack3)

    static func pack3(_ s: String) -> UInt32 { s.utf8.reduce(0) { $0 << 8 | UInt32($1) } }

    /// `text` as an instant; `defaultOffset` (seconds east of UTC) when the layout has no zone,
    /// `receivedSeconds` for the year when it has no year. nil when it does not match.
    func parse(_ text: UnsafeRawBufferPointer, defaultOffset: Int64, receivedSeconds: Int64,
               months: UnsafePointer<UInt32>, days: UnsafePointer<UInt32>) -> Instant? {
        var i = 0
        let n = text.count
        var year: Int64 = 1970, month = 1, day = 1, dayOfYear = 0, hour = 0, minute = 0, second = 0
        var nanos: Int32 = 0, offset = defaultOffset, pm: Bool? = nil, epoch: Int64? = nil
        @inline(__always) func digits(_ minCount: Int, _ maxCount: Int) -> Int? {
            var v = 0, k = 0
            while k < maxCount && i < n && text[i] >= 48 && text[i] <= 57 { v = v * 10 + Int(text[i] - 48); i += 1; k += 1 }
            return k >= minCount ? v : nil
        }
        @inline(__always) func letters3() -> UInt32? {
            guard i + 3 <= n else { return nil }
            var v: UInt32 = 0
            for k in 0..<3 {
                var c = text[i + k]
                if c >= 65 && c <= 90 { c += 32 }
                guard c >= 97 && c <= 122 else { return nil }
                v = v << 8 | UInt32(c)
            }
            i += 3
            return v
        }
        @inline(__always) func skipLetters() { while i < n && ((text[i] | 32) >= 97 && (text[i] | 32) <= 122) { i += 1 } }
        for t in 0..<count {
            switch tokens[t] {
            case .literal(let c):
                guard i < n, text[i] == c else { return nil }
                i += 1
            case .spaces:
                guard i < n, text[i] == 32 || text[i] == 9 else { return nil }
                while i < n && (text[i] == 32 || text[i] == 9) { i += 1 }
            case .year4:
                guard let v = digits(4, 4) else { return nil }
                year = Int64(v)
            case .year2:
                guard let v = digits(2, 2) else { return nil }
                year = Int64(v < 69 ? 2000 + v : 1900 + v)
            case .month:
                guard let v = digits(1, 2), (1...12).contains(v) else { return nil }
                month = v
            case .monthName:
                guard let v = letters3() else { return nil }
                var found = 0
                for m in 0..<12 where months[m] == v { found = m + 1 }
                guard found > 0 else { return nil }
                month = found
                skipLetters()  // the rest of a full name
            case .day:
                guard let v = digits(1, 2), (1...31).contains(v) else { return nil }
                day = v
            case .daySpaced:
                if i < n && text[i] == 32 { i += 1 }
                guard let v = digits(1, 2), (1...31).contains(v) else { return nil }
                day = v
            case .dayOfYear:
                guard let v = digits(1, 3), (1...366).contains(v) else { return nil }
                dayOfYear = v
            case .hour24:
                guard let v = digits(1, 2), v <= 23 else { return nil }
                hour = v
            case .hour12:
                guard let v = digits(1, 2), (1...12).contains(v) else { return nil }
                hour = v
            case .amPm:
                guard i + 2 <= n, (text[i + 1] | 32) == 109 else { return nil }
                let c = text[i] | 32
                guard c == 97 || c == 112 else { return nil }
                pm = c == 112
                i += 2
            case .minute:
                guard let v = digits(1, 2), v <= 59 else { return nil }
                minute = v
            case .second:
                guard let v = digits(1, 2), v <= 60 else { return nil }  // 60: a leap second, read as :59
                second = min(v, 59)
            case .fraction, .millis:
                let start = i
                let exact = tokens[t] == .millis
                guard let v = digits(exact ? 3 : 1, exact ? 3 : 9) else { return nil }
                var scaled = v
                for _ in (i - start)..<9 { scaled *= 10 }
                nanos = Int32(scaled)
                while !exact && i < n && text[i] >= 48 && text[i] <= 57 { i += 1 }  // digits past nanoseconds
            case .offset:
                guard let o = LayoutParser.offset(text, &i) else { return nil }
                offset = o
            case .zoneName:
                guard i < n else { return nil }
                if text[i] == 90 { i += 1; offset = 0; break }
                guard let v = letters3(), v == LayoutParser.pack3("utc") || v == LayoutParser.pack3("gmt") else { return nil }
                offset = 0
            case .weekdayName:
                guard let v = letters3() else { return nil }
                var known = false
                for d in 0..<7 where days[d] == v { known = true }
                guard known else { return nil }
                skipLetters()
            case .epochSeconds:
                var negative = false
                if i < n && text[i] == 45 { negative = true; i += 1 }
                guard let v = digits(1, 12) else { return nil }
                epoch = negative ? -Int64(v) : Int64(v)
            }
        }
        guard i == n else { return nil }
        if let epoch { return Instant(seconds: epoch, nanos: nanos) }
        if let pm { hour = hour % 12 + (pm ? 12 : 0) }
        if !hasYear {
            // The year of receipt; the previous one for a time more than a month ahead of it.
            year = Civil.date(days: Civil.split(receivedSeconds).days).year
        }
        var seconds = local(year: year, month: month, day: day, dayOfYear: dayOfYear, hour: hour, minute: minute, second: second)
        guard var s = seconds else { return nil }
        s -= offset
        if !hasYear && s > receivedSeconds + 31 * 86400 {
            seconds = local(year: year - 1, month: month, day: day, dayOfYear: dayOfYear, hour: hour, minute: minute, second: second)
            guard let earlier = seconds else { return nil }
            s = earlier - offset
        }
        return Instant(seconds: s, nanos: nanos)
    }

    /// Seconds of a civil time read as UTC; nil for a day the month does not have.
    private func local(year: Int64, month: Int, day: Int, dayOfYear: Int, hour: Int, minute: Int, second: Int) -> Int64? {
        let days: Int64
        if dayOfYear > 0 {
            guard dayOfYear <= (Civil.isLeap(year) ? 366 : 365) else { return nil }
            days = Civil.days(year: year, month: 1, day: 1) + Int64(dayOfYear - 1)
        } else {
            guard day <= Civil.daysIn(month: month, year: year) else { return nil }
            days = Civil.days(year: year, month: month, day: day)
        }
        return days * 86400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// `Z`/`z`, `±HH:MM`, `±HHMM` or `±HH` at `i`, as seconds east of UTC.
    static func offset(_ text: UnsafeRawBufferPointer, _ i: inout Int) -> Int64? {
        let n = text.count
        guard i < n else { return nil }
        if text[i] == 90 || text[i] == 122 { i += 1; return 0 }
        guard text[i] == 43 || text[i] == 45 else { return nil }
        let negative = text[i] == 45
        @inline(__always) func two(_ at: Int) -> Int? {
            guard at + 2 <= n, text[at] >= 48, text[at] <= 57, text[at + 1] >= 48, text[at + 1] <= 57 else { return nil }
            return Int(text[at] - 48) * 10 + Int(text[at + 1] - 48)
        }
        guard let hours = two(i + 1), hours <= 23 else { return nil }
        i += 3
        var minutes = 0
        if i < n && text[i] == 58 {
            guard let m = two(i + 1), m <= 59 else { return nil }
            minutes = m
            i += 3
        } else if let m = two(i), m <= 59 {
            minutes = m
            i += 2
        }
        let total = Int64(hours * 3600 + minutes * 60)
        return negative ? -total : total
    }
}
