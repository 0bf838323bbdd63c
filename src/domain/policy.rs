//! Protection policies, as far as hosts need them: a name, a protection level, the detection
//! mode and the rule switches. The switches are kept as the caller gave them and never
//! enforced; wafcert manages certificates, not traffic.

use serde_json::{Map, Value, json};

use super::DomainError;
use super::certificate::is_name;

/// Longest policy name (Huawei's and OTC's CreatePolicy: 64 characters).
pub const MAX_POLICY_NAME: usize = 64;

/// A JSON object of a policy (`action`, `options`, ...), stored as given.
pub type Rules = Map<String, Value>;

/// A valid policy name: 1 to 64 of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyName(String);

impl PolicyName {
    /// Checks `s` against the naming rule.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        if is_name(s, MAX_POLICY_NAME) {
            Ok(Self(s.to_owned()))
        } else {
            Err(DomainError::InvalidName {
                max: MAX_POLICY_NAME,
            })
        }
    }

    /// The name the cloud gives the policy it creates for a host created without one:
    /// `policy_` and the first eight characters of the policy id.
    pub fn automatic(policy_id: &str) -> Self {
        let short: String = policy_id.chars().take(8).collect();
        Self(format!("policy_{short}"))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everything of a policy but its id, name and hosts.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySettings {
    /// Protection level, 1 (loose) to 3 (strict).
    pub level: i64,
    /// Full detection (`true`) or fast detection (`false`).
    pub full_detection: bool,
    /// Action on bots, e.g. `{"category": "log"}`.
    pub robot_action: Rules,
    /// Action on attacks, e.g. `{"category": "block"}`.
    pub action: Rules,
    /// Module switches, e.g. `{"webattack": true}`.
    pub options: Rules,
    /// Options of the machine-learning module.
    pub modulex_options: Rules,
}

impl Default for PolicySettings {
    /// What a new policy starts with: medium level, fast detection, log only, and the
    /// modules the cloud enables on a new policy switched on.
    fn default() -> Self {
        let object = |v: Value| match v {
            Value::Object(map) => map,
            _ => Rules::new(),
        };
        Self {
            level: 2,
            full_detection: false,
            robot_action: object(json!({"category": "log"})),
            action: object(json!({"category": "log"})),
            options: object(json!({
                "webattack": true, "common": true, "crawler": true, "crawler_engine": false,
                "crawler_scanner": true, "crawler_script": false, "crawler_other": false,
                "webshell": false, "cc": true, "custom": true, "whiteblackip": true,
                "geoip": true, "ignore": true, "privacy": true, "antitamper": true,
                "antileakage": false, "bot_enable": true, "modulex_enabled": false
            })),
            modulex_options: Rules::new(),
        }
    }
}

/// The carried fields of a policy create or update; absent ones are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyPatch {
    /// New level.
    pub level: Option<i64>,
    /// New detection mode.
    pub full_detection: Option<bool>,
    /// Keys of `robot_action` to set.
    pub robot_action: Option<Rules>,
    /// Keys of `action` to set.
    pub action: Option<Rules>,
    /// Keys of `options` to set.
    pub options: Option<Rules>,
    /// Keys of `modulex_options` to set.
    pub modulex_options: Option<Rules>,
}

impl PolicyPatch {
    /// Checks the level: 1 to 3.
    pub fn check(&self) -> Result<(), DomainError> {
        match self.level {
            Some(level) if !(1..=3).contains(&level) => Err(DomainError::InvalidPolicySetting(
                "level must be 1 (loose), 2 (medium) or 3 (strict)".to_owned(),
            )),
            _ => Ok(()),
        }
    }

    /// `base` with the carried fields applied; objects are merged key by key, so a request
    /// naming one switch leaves the others as they were.
    pub fn apply(&self, mut base: PolicySettings) -> PolicySettings {
        if let Some(level) = self.level {
            base.level = level;
        }
        if let Some(full) = self.full_detection {
            base.full_detection = full;
        }
        merge(&mut base.robot_action, self.robot_action.as_ref());
        merge(&mut base.action, self.action.as_ref());
        merge(&mut base.options, self.options.as_ref());
        merge(&mut base.modulex_options, self.modulex_options.as_ref());
        base
    }
}

fn merge(target: &mut Rules, patch: Option<&Rules>) {
    for (k, v) in patch.into_iter().flatten() {
        target.insert(k.clone(), v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        assert!(PolicyName::parse("policy_1.a-b").is_ok());
        assert!(PolicyName::parse(&"p".repeat(64)).is_ok());
        for bad in ["", "a b", "ümlaut", &"p".repeat(65)] {
            assert_eq!(
                PolicyName::parse(bad),
                Err(DomainError::InvalidName { max: 64 }),
                "{bad}"
            );
        }
        let auto = PolicyName::automatic("0123456789abcdef0123456789abcdef");
        assert_eq!(auto.as_str(), "policy_01234567");
        assert!(PolicyName::parse(auto.as_str()).is_ok());
    }

    #[test]
    fn patches_merge_switches_and_check_the_level() {
        let patch = PolicyPatch {
            level: Some(3),
            options: json!({"webattack": false, "new_switch": 7})
                .as_object()
                .cloned(),
            ..PolicyPatch::default()
        };
        assert!(patch.check().is_ok());
        let after = patch.apply(PolicySettings::default());
        assert_eq!(after.level, 3);
        assert_eq!(after.options["webattack"], json!(false));
        assert_eq!(after.options["new_switch"], json!(7));
        assert_eq!(after.options["cc"], json!(true), "untouched switches stay");
        assert_eq!(after.action, PolicySettings::default().action);
        for level in [0, 4, -1] {
            let bad = PolicyPatch {
                level: Some(level),
                ..PolicyPatch::default()
            };
            assert!(bad.check().is_err(), "{level}");
        }
    }
}
