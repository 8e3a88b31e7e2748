//! The SMART resolver (`Parsed.resolve`, ISO chronology): parsed fields merged into a date,
//! a time, an offset and a zone (`2021-02-30` is the 28th, `24:00` the next day,
//! conflicting fields an error).

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};

use super::format::Temporal;
use super::parse::Parsed;
use super::pattern::Field;
use super::zone::Zone;
use super::{iso_date_of, iso_time_of};

/// What the SMART resolver made of parsed fields.
#[derive(Debug, Default)]
pub(super) struct Resolved {
    pub(super) date: Option<NaiveDate>,
    /// Nanoseconds of the day.
    pub(super) time: Option<i64>,
    /// Fields neither merged into the date nor the time.
    pub(super) rest: BTreeMap<Field, i64>,
    pub(super) zone: Option<Zone>,
    pub(super) offset: Option<i32>,
}

fn add_field(
    fields: &mut BTreeMap<Field, i64>,
    field: Field,
    value: i64,
) -> std::result::Result<(), String> {
    match fields.insert(field, value) {
        Some(old) if old != value => Err(format!(
            "Conflict found: {} {old} differs from {} {value}",
            field.name(),
            field.name()
        )),
        _ => Ok(()),
    }
}

pub(super) fn date_field(date: NaiveDate, field: Field) -> Option<i64> {
    Temporal {
        date: Some(date),
        time: None,
        offset: None,
        zone: None,
        instant_ms: None,
    }
    .get(field)
    .ok()
}

fn time_field(nod: i64, field: Field) -> Option<i64> {
    Temporal {
        date: None,
        time: Some(nod),
        offset: None,
        zone: None,
        instant_ms: None,
    }
    .get(field)
    .ok()
}

fn java_date_text(d: NaiveDate) -> String {
    iso_date_of(d)
}

/// `Parsed.resolve` with `ResolverStyle.SMART`, ISO chronology.
pub(super) fn resolve(parsed: Parsed) -> std::result::Result<Resolved, String> {
    let mut f = parsed.fields;
    let mut out = Resolved {
        zone: parsed.zone,
        ..Default::default()
    };
    if let Some(offset) = f.remove(&Field::OffsetSeconds) {
        out.offset = Some(Field::OffsetSeconds.check(offset)? as i32);
    }
    // Era and year of era become the year.
    if let Some(yoe) = f.remove(&Field::YearOfEra) {
        Field::YearOfEra.check(yoe)?;
        match f.remove(&Field::Era) {
            None => {
                let year = f.get(&Field::Year).copied();
                let y = if year.is_none_or(|y| y > 0) {
                    yoe
                } else {
                    1 - yoe
                };
                add_field(&mut f, Field::Year, y)?;
            }
            Some(1) => add_field(&mut f, Field::Year, yoe)?,
            Some(0) => add_field(&mut f, Field::Year, 1 - yoe)?,
            Some(era) => return Err(format!("Invalid value for era: {era}")),
        }
    } else if let Some(era) = f.get(&Field::Era) {
        Field::Era.check(*era)?;
    }
    // The date.
    if let Some(&year) = f.get(&Field::Year) {
        if f.contains_key(&Field::MonthOfYear) && f.contains_key(&Field::DayOfMonth) {
            let y = Field::Year.check(year)?;
            let m = Field::MonthOfYear.check(f.remove(&Field::MonthOfYear).unwrap_or(1))?;
            let mut d = Field::DayOfMonth.check(f.remove(&Field::DayOfMonth).unwrap_or(1))?;
            f.remove(&Field::Year);
            let leap = NaiveDate::from_ymd_opt(y as i32, 2, 29).is_some();
            match m {
                4 | 6 | 9 | 11 => d = d.min(30),
                2 => d = d.min(if leap { 29 } else { 28 }),
                _ => {}
            }
            out.date = Some(
                NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)
                    .ok_or_else(|| format!("Invalid date {y}-{m}-{d}"))?,
            );
        } else if f.contains_key(&Field::DayOfYear) {
            let y = Field::Year.check(year)?;
            let doy = Field::DayOfYear.check(f.remove(&Field::DayOfYear).unwrap_or(1))?;
            f.remove(&Field::Year);
            out.date = Some(NaiveDate::from_yo_opt(y as i32, doy as u32).ok_or_else(|| {
                format!("Invalid date 'DayOfYear 366' as '{y}' is not a leap year")
            })?);
        }
    }
    // The time.
    if let Some(ch) = f.remove(&Field::ClockHourOfDay) {
        if ch != 0 {
            Field::ClockHourOfDay.check(ch)?;
        }
        add_field(&mut f, Field::HourOfDay, if ch == 24 { 0 } else { ch })?;
    }
    if let Some(ch) = f.remove(&Field::ClockHourOfAmPm) {
        if ch != 0 {
            Field::ClockHourOfAmPm.check(ch)?;
        }
        add_field(&mut f, Field::HourOfAmPm, if ch == 12 { 0 } else { ch })?;
    }
    if f.contains_key(&Field::AmPmOfDay) && f.contains_key(&Field::HourOfAmPm) {
        let ap = Field::AmPmOfDay.check(f.remove(&Field::AmPmOfDay).unwrap_or(0))?;
        let hap = Field::HourOfAmPm.check(f.remove(&Field::HourOfAmPm).unwrap_or(0))?;
        add_field(&mut f, Field::HourOfDay, ap * 12 + hap)?;
    }
    if let Some(nod) = f.remove(&Field::NanoOfDay) {
        Field::NanoOfDay.check(nod)?;
        add_field(&mut f, Field::HourOfDay, nod / 3_600_000_000_000)?;
        add_field(&mut f, Field::MinuteOfHour, nod / 60_000_000_000 % 60)?;
        add_field(&mut f, Field::SecondOfMinute, nod / 1_000_000_000 % 60)?;
        add_field(&mut f, Field::NanoOfSecond, nod % 1_000_000_000)?;
    }
    if let Some(mod_) = f.remove(&Field::MilliOfDay) {
        Field::MilliOfDay.check(mod_)?;
        let sod = mod_ / 1000;
        add_field(&mut f, Field::HourOfDay, sod / 3600)?;
        add_field(&mut f, Field::MinuteOfHour, sod / 60 % 60)?;
        add_field(&mut f, Field::SecondOfMinute, sod % 60)?;
        add_field(&mut f, Field::NanoOfSecond, mod_ % 1000 * 1_000_000)?;
    }
    if let Some(nos) = f.get(&Field::NanoOfSecond) {
        Field::NanoOfSecond.check(*nos)?;
    }
    let mut excess_days = 0;
    if let Some(&hod) = f.get(&Field::HourOfDay) {
        let moh = f.get(&Field::MinuteOfHour).copied();
        let som = f.get(&Field::SecondOfMinute).copied();
        let nos = f.get(&Field::NanoOfSecond).copied();
        let cannot_default = (moh.is_none() && (som.is_some() || nos.is_some()))
            || (moh.is_some() && som.is_none() && nos.is_some());
        if !cannot_default {
            let (moh, som, nos) = (moh.unwrap_or(0), som.unwrap_or(0), nos.unwrap_or(0));
            Field::MinuteOfHour.check(moh)?;
            Field::NanoOfSecond.check(nos)?;
            if hod == 24 && moh == 0 && som == 0 && nos == 0 {
                out.time = Some(0);
                excess_days = 1;
            } else {
                Field::HourOfDay.check(hod)?;
                Field::SecondOfMinute.check(som)?;
                out.time = Some(((hod * 60 + moh) * 60 + som) * 1_000_000_000 + nos);
            }
            for field in [
                Field::HourOfDay,
                Field::MinuteOfHour,
                Field::SecondOfMinute,
                Field::NanoOfSecond,
            ] {
                f.remove(&field);
            }
        }
    }
    for (field, value) in &f {
        if !field.is_date() {
            field.check(*value)?;
        }
    }
    if let (Some(date), Some(_)) = (out.date, out.time)
        && excess_days != 0
    {
        out.date = date.checked_add_signed(Duration::days(excess_days));
    }
    // Fields left over must agree with what was resolved.
    let mut rest = BTreeMap::new();
    for (field, value) in f {
        let derived = if field.is_date() {
            out.date.and_then(|d| date_field(d, field))
        } else {
            out.time.and_then(|t| time_field(t, field))
        };
        match derived {
            Some(d) if d != value => {
                let from = match (field.is_date(), out.date, out.time) {
                    (true, Some(date), _) => java_date_text(date),
                    (_, _, Some(t)) => iso_time_of(t),
                    _ => String::new(),
                };
                return Err(format!(
                    "Conflict found: Field {} {d} differs from {} {value} derived from {from}",
                    field.name(),
                    field.name()
                ));
            }
            Some(_) => {}
            None => {
                rest.insert(field, value);
            }
        }
    }
    out.rest = rest;
    Ok(out)
}
