use super::*;

fn site() -> SiteId {
    "0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d".parse().unwrap()
}

#[test]
fn site_create_renders_every_argument_as_its_own_word() {
    let request = SiteCreate {
        site: site(),
        domain: DomainName::parse("Blog.Example.COM.").unwrap(),
        kind: SiteKind::Wordpress,
        php: Some(PhpVersion::V8_2),
        resources: SiteResources {
            php_workers: 7,
            php_memory_mb: 128,
            upload_mb: 32,
            ..SiteResources::default()
        },
        noindex: false,
    }
    .request();

    assert_eq!(
        request.argv(),
        [
            "site-create",
            "--site",
            "0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d",
            "--domain",
            "blog.example.com",
            "--kind",
            "wordpress",
            "--php",
            "8.2",
            "--workers",
            "7",
            "--memory",
            "128",
            "--upload",
            "32"
        ]
    );
}

#[test]
fn a_staging_copy_is_created_with_noindex() {
    let request = SiteCreate {
        site: site(),
        domain: DomainName::parse("staging.blog.example.com").unwrap(),
        kind: SiteKind::Static,
        php: None,
        resources: SiteResources::default(),
        noindex: true,
    }
    .request();
    assert_eq!(request.argv()[request.argv().len() - 2..], ["--noindex", "1"]);
}

#[test]
fn a_static_site_has_no_php_argument() {
    let domain = DomainName::parse("www.example.org").unwrap();
    let request = SiteCreate {
        site: site(),
        domain,
        kind: SiteKind::Static,
        php: None,
        resources: SiteResources::default(),
        noindex: false,
    }
    .request();

    assert!(!request.argv().contains(&"--php".to_owned()), "{:?}", request.argv());
}

#[test]
fn an_internationalized_domain_goes_to_the_node_as_punycode() {
    let domain = DomainName::parse("Bücher.Example").unwrap();
    let request = SiteCreate {
        site: site(),
        domain,
        kind: SiteKind::Static,
        php: None,
        resources: SiteResources::default(),
        noindex: false,
    }
    .request();

    assert_eq!(request.argv()[4], "xn--bcher-kva.example");
}

#[test]
fn site_operations_and_plain_verbs_render_their_verb() {
    let cases = [
        (SiteDelete { site: site() }.request(), "site-delete"),
        (SiteSuspend { site: site() }.request(), "site-suspend"),
        (SiteResume { site: site() }.request(), "site-resume"),
    ];
    for (request, verb) in cases {
        assert_eq!(request.argv(), [verb, "--site", "0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d"]);
    }
    assert_eq!(Version.request().argv(), ["version"]);
    assert_eq!(Bootstrap.request().argv(), ["bootstrap"]);
    assert_eq!(Health.request().argv(), ["health"]);
    assert!(Bootstrap.request().installs_bundle());
    assert!(!Health.request().installs_bundle());
}

/// Values that would mean something to a shell, to nginx or to SQL cannot become a
/// `DomainName` at all, so no request can carry them.
#[test]
fn hostile_domains_cannot_be_constructed() {
    for hostile in [
        "a.com; rm -rf /",
        "$(touch /tmp/x).example",
        "`id`.example",
        "a.com'--",
        "a.com\" OR 1=1",
        "a.com\nserver_name evil",
        "a.com\\",
        "a.com --kind php",
        "--site.example",
        "a.com\0",
        "a b.com",
        "../../etc.example",
        "*.example.com",
        "a.com;",
        "{a,b}.example",
    ] {
        assert!(DomainName::parse(hostile).is_err(), "{hostile:?} parsed as a domain");
    }
}

#[test]
fn hostile_site_ids_do_not_parse() {
    for hostile in ["", "x$(id)", "0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d; id", "'; DROP TABLE x; --"] {
        assert!(hostile.parse::<SiteId>().is_err(), "{hostile:?} parsed as a site id");
    }
}
