//! Tests of the date and time functions.

use super::*;

fn ts(text: &str) -> i64 {
    crate::functions::time_parse::parse_timestamp_literal(text).unwrap()
}

#[test]
fn format_and_parse_timestamps() {
    assert_eq!(
        v("FORMAT_TIMESTAMP(FROM_UNIXTIME(1526075913000), 'yyyy-MM-dd''T''HH:mm:ssX')"),
        s("2018-05-11T21:58:33Z")
    );
    assert_eq!(
        v("FORMAT_TIMESTAMP(FROM_UNIXTIME(0), 'yyyy-MM-dd HH:mm z', 'America/Los_Angeles')"),
        s("1969-12-31 16:00 PST")
    );
    assert_eq!(
        v("PARSE_TIMESTAMP('2018-05-11 21:58:33', 'yyyy-MM-dd HH:mm:ss')"),
        Value::Timestamp(1_526_075_913_000)
    );
    assert_eq!(
        v("PARSE_TIMESTAMP('2018-05-11 14:58:33', 'yyyy-MM-dd HH:mm:ss', 'America/Los_Angeles')"),
        Value::Timestamp(1_526_075_913_000)
    );
    assert_eq!(
        v("PARSE_TIMESTAMP('11:30', 'HH:mm')"),
        Value::Timestamp(ts("1970-01-01T11:30:00"))
    );
    assert!(fails("PARSE_TIMESTAMP('nope', 'yyyy')").contains("could not be parsed at index 0"));
    assert!(
        fails("FORMAT_TIMESTAMP(FROM_UNIXTIME(0), 'yyyy', 'Mars/Base')")
            .contains("Unknown time-zone ID")
    );
    assert!(
        fails("FORMAT_TIMESTAMP(FROM_UNIXTIME(0), 'qqqqqq')").contains("Too many pattern letters")
    );
    assert_eq!(
        v("FORMAT_TIMESTAMP(CAST(NULL AS TIMESTAMP), 'yyyy')"),
        Value::Null
    );
}

#[test]
fn deprecated_epoch_functions() {
    assert_eq!(
        v("STRINGTOTIMESTAMP('2018-05-11T21:58:33Z', 'yyyy-MM-dd''T''HH:mm:ssX')"),
        Value::BigInt(1_526_075_913_000)
    );
    assert_eq!(
        v("STRINGTOTIMESTAMP('2018-05-11 21:58:33', 'yyyy-MM-dd HH:mm:ss', 'UTC')"),
        Value::BigInt(1_526_075_913_000)
    );
    // No NULL check in ksqlDB: NULL is a failure.
    assert!(!fails("STRINGTOTIMESTAMP(CAST(NULL AS STRING), 'yyyy')").is_empty());
    assert_eq!(
        v("TIMESTAMPTOSTRING(1526075913000, 'yyyy-MM-dd HH:mm:ss.SSS')"),
        s("2018-05-11 21:58:33.000")
    );
    assert_eq!(
        v("TIMESTAMPTOSTRING(1526075913000, 'HH:mm', '+05:30')"),
        s("03:28")
    );
    assert_eq!(
        v("STRINGTODATE('2018-05-11', 'yyyy-MM-dd')"),
        Value::Int(17662)
    );
    assert!(fails("STRINGTODATE('2018-05', 'yyyy-MM')").contains("Unable to obtain LocalDate"));
    assert_eq!(v("DATETOSTRING(17662, 'dd/MM/yyyy')"), s("11/05/2018"));
    assert_eq!(v("DATETOSTRING(-1, 'yyyy-MM-dd')"), s("1969-12-31"));
    assert!(fails("DATETOSTRING(0, 'HH')").contains("Unsupported field: HourOfDay"));
}

#[test]
fn dates_and_times() {
    assert_eq!(
        v("PARSE_DATE('2018-05-11', 'yyyy-MM-dd')"),
        Value::Date(17662)
    );
    assert_eq!(
        v("PARSE_DATE('01-JAN-2022', 'dd-MMM-yyyy')"),
        Value::Date(18993)
    );
    assert!(
        fails("PARSE_DATE('2018-05-11 10', 'yyyy-MM-dd HH')")
            .contains("Date format contains time field")
    );
    assert_eq!(
        v("FORMAT_DATE(FROM_DAYS(18993), 'dd-MMM-yyyy')"),
        s("01-Jan-2022")
    );
    assert_eq!(
        v("PARSE_TIME('01:00:00 PM', 'hh:mm:ss a')"),
        Value::Time(46_800_000)
    );
    assert_eq!(
        v("PARSE_TIME('11/05/19', 'HH/mm/ss')"),
        Value::Time(39_919_000)
    );
    assert!(fails("PARSE_TIME('2021 10', 'yyyy HH')").contains("Time format contains date field"));
    assert_eq!(
        v("FORMAT_TIME(PARSE_TIME('00:20:34', 'HH:mm:ss'), 'HHmmss''x''')"),
        s("002034x")
    );
    assert_eq!(v("UNIX_DATE(FROM_DAYS(5))"), Value::Int(5));
    assert_eq!(v("UNIX_TIMESTAMP(FROM_UNIXTIME(42))"), Value::BigInt(42));
    let Value::BigInt(now) = v("UNIX_TIMESTAMP()") else {
        panic!()
    };
    assert!(now > 1_600_000_000_000);
    let Value::Int(today) = v("UNIX_DATE()") else {
        panic!()
    };
    assert_eq!(today as i64, now / 86_400_000);
}

#[test]
fn adding_durations() {
    assert_eq!(
        v("TIMESTAMPADD(MINUTES, 5, FROM_UNIXTIME(0))"),
        Value::Timestamp(300_000)
    );
    assert_eq!(
        v("TIMESTAMPSUB(DAY, 1, FROM_UNIXTIME(0))"),
        Value::Timestamp(-86_400_000)
    );
    assert_eq!(v("DATEADD(DAYS, 3, FROM_DAYS(1))"), Value::Date(4));
    // TimeUnit.toDays truncates towards zero: one hour before the epoch is still day 0.
    assert_eq!(v("DATESUB(HOURS, 1, FROM_DAYS(0))"), Value::Date(0));
    assert_eq!(v("DATESUB(HOURS, 25, FROM_DAYS(0))"), Value::Date(-1));
    // TIME wraps around midnight.
    assert_eq!(
        v("TIMEADD(MILLISECONDS, -5, PARSE_TIME('00:00', 'HH:mm'))"),
        Value::Time(86_399_995)
    );
    assert_eq!(
        v("TIMESUB(HOURS, 25, PARSE_TIME('00:00', 'HH:mm'))"),
        Value::Time(82_800_000)
    );
    assert_eq!(
        v("TIMEADD(SECONDS, CAST(NULL AS INT), PARSE_TIME('00:00', 'HH:mm'))"),
        Value::Null
    );
    assert!(
        plan_error("TIMEADD(PARSE_TIME('00:00', 'HH:mm'), 5, PARSE_TIME('00:00', 'HH:mm'))")
            .contains("Function 'timeadd' does not accept parameters (TIME, INTEGER, TIME)")
    );
}

#[test]
fn convert_tz() {
    assert_eq!(
        v("CONVERT_TZ(FROM_UNIXTIME(0), '+0200', '+0500')"),
        Value::Timestamp(3 * 3_600_000)
    );
    assert_eq!(
        v("CONVERT_TZ(FROM_UNIXTIME(0), 'America/Los_Angeles', 'America/New_York')"),
        Value::Timestamp(3 * 3_600_000)
    );
    assert!(fails("CONVERT_TZ(FROM_UNIXTIME(0), 'PST', 'UTC')").contains("Invalid time zone"));
}

#[test]
fn extreme_values_fail_instead_of_panicking() {
    assert!(!fails("FORMAT_TIMESTAMP(FROM_UNIXTIME(9223372036854775807), 'yyyy')").is_empty());
    assert!(fails("FORMAT_TIMESTAMP(FROM_UNIXTIME(0), 'SSSSSSSSSS')").contains("width"));
    // Java's long addition wraps.
    assert_eq!(
        v("CONVERT_TZ(FROM_UNIXTIME(9223372036854775807), 'UTC', '+01:00')"),
        Value::Timestamp(i64::MAX.wrapping_add(3_600_000))
    );
    assert!(fails("CONVERT_TZ(FROM_UNIXTIME(0), '+1é1', 'UTC')").contains("Invalid time zone"));
}
