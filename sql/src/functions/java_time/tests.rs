//! Unit tests of the Java `DateTimeFormatter` port: compiling, formatting and parsing
//! patterns against the JDK's results.

use super::*;

fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, s)
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

#[test]
fn formats_as_java() {
    let la = Zone::parse("America/Los_Angeles").unwrap();
    let t = ts(2021, 9, 5, 20, 4, 5) + 123;
    let f = |p: &str, z: &Zone| {
        JavaPattern::compile(p)
            .unwrap()
            .format_timestamp(t, z)
            .unwrap()
    };
    assert_eq!(
        f(
            "MMM MMMM MMMMM EEE EEEE EEEEE a G GGGG GGGGG QQQ QQQQ QQQQQ",
            &la
        ),
        "Sep September S Sun Sunday S PM AD Anno Domini A Q3 3rd quarter 3"
    );
    assert_eq!(
        f(
            "z zzzz VV O OOOO X XX XXX XXXX XXXXX x xx xxx Z ZZZZ ZZZZZ",
            &la
        ),
        "PDT Pacific Daylight Time America/Los_Angeles GMT-7 GMT-07:00 -07 -0700 -07:00 -0700 \
         -07:00 -07 -0700 -07:00 -0700 GMT-07:00 -07:00"
    );
    assert_eq!(
        f("yy yyyy u uuuuu D DDD SSSS", &la),
        "21 2021 2021 02021 248 248 1230"
    );
    assert_eq!(
        f("yyyy-MM-dd'T'HH:mm:ss.SSSX", &Zone::utc()),
        "2021-09-05T20:04:05.123Z"
    );
    assert_eq!(f("h:mm a, ''yy", &Zone::gmt()), "8:04 PM, '21");
    assert_eq!(f("z X", &Zone::gmt()), "GMT Z");
    assert_eq!(f("z", &Zone::parse("+05:30").unwrap()), "+05:30");
    let date = JavaPattern::compile("yyyy G").unwrap();
    assert_eq!(
        date.format_date((NaiveDate::from_ymd_opt(-5, 1, 1).unwrap() - epoch()).num_days() as i32)
            .unwrap(),
        "0006 BC"
    );
    assert_eq!(
        JavaPattern::compile("HH:mm").unwrap().try_format_date(0),
        Err("Unsupported field: HourOfDay".to_string())
    );
    assert_eq!(
        JavaPattern::compile("yyyy[ HH]")
            .unwrap()
            .format_date(0)
            .unwrap(),
        "1970"
    );
}

#[test]
fn parses_as_ksqldb_timestamp_parser() {
    let p = |pat: &str, text: &str| {
        JavaPattern::compile(pat)
            .unwrap()
            .try_parse_timestamp(text, &Zone::gmt())
    };
    assert_eq!(p("yyyy-MM-dd", "2021-02-30"), Ok(ts(2021, 2, 28, 0, 0, 0)));
    assert!(
        p("yyyy-MM-dd", "2021-02-32")
            .unwrap_err()
            .contains("Invalid value for DayOfMonth")
    );
    assert_eq!(p("yyyyMMdd", "20210102"), Ok(ts(2021, 1, 2, 0, 0, 0)));
    assert!(p("yyyy-MM-dd", "12345-01-01").is_err());
    assert_eq!(
        p("yyyy-MM-dd HH:mm", "2021-01-01 24:00"),
        Ok(ts(2021, 1, 2, 0, 0, 0))
    );
    assert!(
        p("hh:mm a", "13:00 PM")
            .unwrap_err()
            .contains("ClockHourOfAmPm")
    );
    assert_eq!(p("hh:mm a", "01:30 pm"), Ok(ts(1970, 1, 1, 13, 30, 0)));
    assert!(
        p("EEE yyyy-MM-dd", "Mon 2021-01-01")
            .unwrap_err()
            .contains("Conflict found")
    );
    assert_eq!(
        p("yyyy-MM-dd'T'HH:mm:ssX", "2021-01-01T00:00:00+0530"),
        Ok(ts(2020, 12, 31, 18, 30, 0))
    );
    assert!(
        p("yyyy-MM-dd'T'HH:mm:ssX", "2021-01-01T00:00:00+05:30")
            .unwrap_err()
            .contains("unparsed text found at index 22")
    );
    assert_eq!(
        p("yyyy-MM-dd'T'HH:mm:ssX", "2020-05-11T21:58:33z"),
        Ok(ts(2020, 5, 11, 21, 58, 33))
    );
    assert_eq!(p("yyyy MMM", "2021 SEP"), Ok(ts(2021, 9, 1, 0, 0, 0)));
    assert!(p("MMMM", "September").is_err());
    assert_eq!(
        p("HHmmssSSS", "123456789"),
        Ok(ts(1970, 1, 1, 12, 34, 56) + 789)
    );
    assert!(p("yyyy-MM-dd HH:mm:ss.SSS", "2021-01-01 00:00:00.12").is_err());
    assert_eq!(p("yyyy[-MM[-dd]]", "2021-05"), Ok(ts(2021, 5, 1, 0, 0, 0)));
    assert_eq!(p("yy-MM-dd", "21-05-01"), Ok(ts(2021, 5, 1, 0, 0, 0)));
    assert!(
        p("yyyy-MM-dd", "0000-01-01")
            .unwrap_err()
            .contains("YearOfEra")
    );
    // PST is a zone with daylight saving time: in May it is -07:00.
    assert_eq!(
        p("yyyy-MM-dd'T'HH:mm:ss zzz", "2018-05-11T21:58:33 PST"),
        Ok(1_526_101_113_000)
    );
    assert_eq!(
        p("yyyy-MM-dd HH VV", "2021-01-01 00 America/New_York"),
        Ok(ts(2021, 1, 1, 5, 0, 0))
    );
    let la = Zone::parse("America/Los_Angeles").unwrap();
    assert_eq!(
        JavaPattern::compile("yyyy-MM-dd HH")
            .unwrap()
            .try_parse_timestamp("1970-01-01 00", &la),
        Ok(8 * 3_600_000)
    );
    // In the spring-forward gap the time moves on by the gap.
    assert_eq!(
        JavaPattern::compile("yyyy-MM-dd HH:mm")
            .unwrap()
            .try_parse_timestamp("2021-03-14 02:30", &la),
        Ok(ts(2021, 3, 14, 10, 30, 0))
    );
}

#[test]
fn dates_and_times() {
    let d = JavaPattern::compile("dd-MMM-yyyy").unwrap();
    assert_eq!(d.try_parse_date("01-jan-2022"), Ok(18993));
    assert!(
        JavaPattern::compile("yyyy-MM")
            .unwrap()
            .try_parse_date("2022-01")
            .is_err()
    );
    let t = JavaPattern::compile("hh:mm:ss a").unwrap();
    assert_eq!(t.try_parse_time("01:00:00 PM"), Ok(46_800_000));
    assert_eq!(
        JavaPattern::compile("yyyy HH")
            .unwrap()
            .try_parse_time("2021 10"),
        Err("Time format contains date field.".into())
    );
    assert_eq!(
        JavaPattern::compile("HH_mm_ss_SSS")
            .unwrap()
            .format_time(65000)
            .unwrap(),
        "00_01_05_000"
    );
    assert_eq!(iso_date(-1), "1969-12-31");
    assert_eq!(iso_time(60_220_000), "16:43:40");
}

#[test]
fn bad_patterns() {
    assert!(JavaPattern::compile("yyyy-qq").is_ok());
    assert!(
        JavaPattern::compile("HHH")
            .unwrap_err()
            .to_string()
            .contains("Too many pattern letters: H")
    );
    assert!(
        JavaPattern::compile("b")
            .unwrap_err()
            .to_string()
            .contains("Unknown pattern letter: b")
    );
    assert!(JavaPattern::compile("'abc").is_err());
    assert!(JavaPattern::compile("a]").is_err());
    assert!(JavaPattern::compile("{").is_err());
}

#[test]
fn zones() {
    assert_eq!(Zone::parse("UTC").unwrap().id(), "UTC");
    assert_eq!(Zone::parse("+0200").unwrap().offset_at(0).unwrap(), 7200);
    assert_eq!(Zone::parse("GMT+2").unwrap().id(), "GMT+02:00");
    assert!(Zone::parse("PST").is_err());
    assert!(Zone::parse("utc").is_err());
    assert!(
        Zone::parse("Mars/Base")
            .unwrap_err()
            .to_string()
            .contains("Unknown time-zone ID")
    );
}
