//! Contract profiles: where the OTC and Huawei Cloud documentation disagree on a limit or a
//! code, `--contract` picks one side; the default keeps wafcert's own choices (see
//! docs/decisions.md for the source of each difference).

use std::fmt;
use std::str::FromStr;

use super::NameLimit;

/// Which cloud's documented limits and codes the server follows where they differ.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Contract {
    /// wafcert's defaults: names up to 256 characters on create and 64 on update, unknown
    /// resources 404 `WAF.00022001`.
    #[default]
    Standard,
    /// Open Telekom Cloud: names up to 64 characters everywhere (OTC's Terraform provider and
    /// UpdateCertificate), unknown resources `WAF.00014001` (still 404, see decisions).
    Otc,
    /// Huawei Cloud: names up to 256 characters on create and update, unknown resources 404
    /// `WAF.00022001`.
    Huawei,
}

impl Contract {
    /// The longest certificate name accepted by the given operation.
    pub const fn name_max(self, operation: NameLimit) -> usize {
        match self {
            Self::Standard => operation.max(),
            Self::Otc => 64,
            Self::Huawei => 256,
        }
    }

    /// Whether an unknown resource is reported with OTC's `WAF.00014001`.
    pub const fn otc_not_found(self) -> bool {
        matches!(self, Self::Otc)
    }
}

impl FromStr for Contract {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "standard" => Ok(Self::Standard),
            "otc" => Ok(Self::Otc),
            "huawei" => Ok(Self::Huawei),
            other => Err(format!(
                "unknown contract {other:?}: expected otc, huawei or standard"
            )),
        }
    }
}

impl fmt::Display for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Standard => "standard",
            Self::Otc => "otc",
            Self::Huawei => "huawei",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_set_the_name_limits() {
        let limits = |c: Contract| (c.name_max(NameLimit::Create), c.name_max(NameLimit::Update));
        assert_eq!(limits(Contract::Standard), (256, 64));
        assert_eq!(limits(Contract::Otc), (64, 64));
        assert_eq!(limits(Contract::Huawei), (256, 256));
        assert!(Contract::Otc.otc_not_found());
        assert!(!Contract::Huawei.otc_not_found() && !Contract::Standard.otc_not_found());
    }

    #[test]
    fn profiles_parse_and_print() {
        for c in [Contract::Standard, Contract::Otc, Contract::Huawei] {
            assert_eq!(c.to_string().parse::<Contract>(), Ok(c));
        }
        assert!("OTC".parse::<Contract>().is_err());
    }
}
