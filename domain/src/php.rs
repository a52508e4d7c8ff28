//! Site types and PHP versions: the runtimes Berth can host.

use serde::{Deserialize, Serialize};

/// What runs a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteKind {
    /// WordPress on PHP-FPM with its own MariaDB database.
    Wordpress,
    /// A plain PHP application.
    Php,
    /// A Laravel application.
    Laravel,
    /// Static files only; no PHP.
    Static,
}

impl SiteKind {
    /// Every value, in the order the APIs list them.
    pub const ALL: [Self; 4] = [Self::Wordpress, Self::Php, Self::Laravel, Self::Static];

    /// The API name: `wordpress`, `php`, `laravel` or `static`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Wordpress => "wordpress",
            Self::Php => "php",
            Self::Laravel => "laravel",
            Self::Static => "static",
        }
    }

    /// Whether sites of this kind run PHP (and so need a PHP version).
    pub const fn runs_php(self) -> bool {
        !matches!(self, Self::Static)
    }
}

/// A supported PHP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PhpVersion {
    /// PHP 8.1
    #[serde(rename = "8.1")]
    V8_1,
    /// PHP 8.2
    #[serde(rename = "8.2")]
    V8_2,
    /// PHP 8.3
    #[serde(rename = "8.3")]
    V8_3,
    /// PHP 8.4
    #[serde(rename = "8.4")]
    V8_4,
}

impl PhpVersion {
    /// Every supported version, oldest first.
    pub const ALL: [Self; 4] = [Self::V8_1, Self::V8_2, Self::V8_3, Self::V8_4];

    /// The version as written: `8.1` to `8.4`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V8_1 => "8.1",
            Self::V8_2 => "8.2",
            Self::V8_3 => "8.3",
            Self::V8_4 => "8.4",
        }
    }
}
