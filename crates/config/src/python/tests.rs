//! The evaluator, construct by construct, and each refusal naming its line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::Value as Toml;

use super::{Host, PyConfig, PyError, read};

fn host() -> Host {
    let environ: BTreeMap<String, String> = [
        ("HOME", "/home/hub"),
        ("HUB_PORT", "9000"),
        ("OAUTH_SECRET", "s3cret"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    Host {
        environ,
        executable: "/opt/venv/bin/python3".into(),
        prefix: "/opt/venv".into(),
        cwd: PathBuf::from("/srv/hub"),
        echo: false,
    }
}

fn run(src: &str) -> Result<PyConfig, PyError> {
    read(
        Path::new("/etc/jupyterhub/jupyterhub_config.py"),
        src,
        &host(),
    )
}

/// The TOML text of what `src` configures.
fn toml_of(src: &str) -> String {
    let config = run(src).unwrap_or_else(|e| panic!("line {}: {}", e.line, e.message));
    toml::to_string(&config.table).unwrap()
}

fn get(src: &str, class: &str, name: &str) -> Toml {
    let config = run(src).unwrap_or_else(|e| panic!("line {}: {}", e.line, e.message));
    config.table[class][name].clone()
}

fn refusal(src: &str) -> PyError {
    match run(src) {
        Ok(c) => panic!("accepted: {src}: {:?}", c.table),
        Err(e) => e,
    }
}

fn strings(items: &[&str]) -> Toml {
    Toml::Array(
        items
            .iter()
            .map(|s| Toml::String((*s).to_owned()))
            .collect(),
    )
}

#[test]
fn plain_assignments_and_literals() {
    let src = "c = get_config()  #noqa\n\
               c.JupyterHub.bind_url = 'http://:8000/jupyter'\n\
               c.JupyterHub.hub_port = 8081\n\
               c.JupyterHub.cookie_max_age_days = 0.5\n\
               c.JupyterHub.cleanup_servers = False\n\
               c.Spawner.args = ('--debug', \"--x\")\n\
               c.Authenticator.admin_users = {'alice', 'bob', 'alice'}\n\
               c.Spawner.environment = {'A': '1', 'B': None}\n\
               c.JupyterHub.pid_file = None\n";
    let config = run(src).unwrap();
    let hub = config.table["JupyterHub"].as_table().unwrap();
    assert_eq!(hub["bind_url"].as_str(), Some("http://:8000/jupyter"));
    assert_eq!(hub["hub_port"].as_integer(), Some(8081));
    assert_eq!(hub["cookie_max_age_days"].as_float(), Some(0.5));
    assert_eq!(hub["cleanup_servers"].as_bool(), Some(false));
    // None leaves the default: the option is not set at all.
    assert!(!hub.contains_key("pid_file"));
    assert_eq!(
        config.table["Spawner"]["args"],
        strings(&["--debug", "--x"])
    );
    assert_eq!(
        config.table["Authenticator"]["admin_users"],
        strings(&["alice", "bob"])
    );
    // A None value inside a dict leaves that key out.
    assert_eq!(
        toml::to_string(&config.table["Spawner"]["environment"]).unwrap(),
        "A = \"1\"\n"
    );
    assert_eq!(config.lines[&("JupyterHub".into(), "hub_port".into())], 3);
    assert_eq!(config.class_lines["Spawner"], 6);
}

#[test]
fn strings_of_every_kind() {
    let src = r#"name = 'hub'
c.Spawner.args = [
    r'\d+',
    '''triple
quoted''',
    'implicit' ' ' "concatenation",
    f'{name}-{1 + 2:03d}-{name!r}',
    '%s:%d' % ('a', 5),
    '{}-{n}'.format('x', n=name),
    '  Hub  '.strip().lower(),
    ','.join(['a', 'b']),
    'a-b-c'.split('-')[1],
    'x'.upper() + 'Y'.replace('Y', 'z'),
    str('a.py'.endswith('.py')) + str('a'.startswith(('b', 'a'))),
    'tab\there',
]
"#;
    assert_eq!(
        get(src, "Spawner", "args"),
        strings(&[
            "\\d+",
            "triple\nquoted",
            "implicit concatenation",
            "hub-003-'hub'",
            "a:5",
            "x-hub",
            "hub",
            "a,b",
            "b",
            "Xz",
            "TrueTrue",
            "tab\there",
        ])
    );
}

#[test]
fn arithmetic_comparisons_and_conditions() {
    let src = "port = 8000 + 1\n\
               if port > 8000 and not port == 9000:\n    c.JupyterHub.hub_port = port * 2 - 10 // 3\n\
               elif port:\n    c.JupyterHub.hub_port = 1\n\
               else:\n    pass\n\
               c.Spawner.start_timeout = 2 ** 6 if 'a' in 'abc' else 0\n\
               c.Spawner.http_timeout = -7 // 2 + 7 % 3 + len([1, 2]) + int('4') + int(2.9)\n\
               c.JupyterHub.cookie_max_age_days = 1 / 4 + float('0.25')\n\
               c.Spawner.debug = 1 < 2 <= 2 != 3 and None is None and [] is not None\n";
    let config = run(src).unwrap();
    assert_eq!(
        config.table["JupyterHub"]["hub_port"].as_integer(),
        Some(16_002 - 3)
    );
    assert_eq!(
        config.table["Spawner"]["start_timeout"].as_integer(),
        Some(64)
    );
    // Python: -7 // 2 == -4, 7 % 3 == 1.
    assert_eq!(
        config.table["Spawner"]["http_timeout"].as_integer(),
        Some(-4 + 1 + 2 + 4 + 2)
    );
    assert_eq!(
        config.table["JupyterHub"]["cookie_max_age_days"].as_float(),
        Some(0.5)
    );
    assert_eq!(config.table["Spawner"]["debug"].as_bool(), Some(true));
}

#[test]
fn augmented_assignment_and_methods_on_set_values() {
    let src = "c.Spawner.args = ['a']\n\
               c.Spawner.args += ['b']\n\
               c.Spawner.args.append('c')\n\
               c.Spawner.args.extend(('d',))\n\
               c.Authenticator.allowed_users = set()\n\
               c.Authenticator.allowed_users |= {'x'}\n\
               c.Authenticator.allowed_users.add('y')\n\
               c.Spawner.environment = {}\n\
               c.Spawner.environment['K'] = 'v'\n\
               c.Spawner.environment.update({'L': 'w'})\n\
               c.Spawner.environment |= {'M': 'z'}\n\
               x = []\n\
               c.JupyterHub.extra_user_scopes = x\n\
               x.append('read:users')\n";
    let config = run(src).unwrap();
    assert_eq!(
        config.table["Spawner"]["args"],
        strings(&["a", "b", "c", "d"])
    );
    assert_eq!(
        config.table["Authenticator"]["allowed_users"],
        strings(&["x", "y"])
    );
    assert_eq!(
        toml::to_string(&config.table["Spawner"]["environment"]).unwrap(),
        "K = \"v\"\nL = \"w\"\nM = \"z\"\n"
    );
    // Python's lists are shared: appending after the assignment counts.
    assert_eq!(
        config.table["JupyterHub"]["extra_user_scopes"],
        strings(&["read:users"])
    );
    assert_eq!(config.lines[&("Spawner".into(), "environment".into())], 11);
}

#[test]
fn unset_options_extend_ferrohub_defaults_as_traitlets_does() {
    let src = "c.Spawner.env_keep.append('MY_VAR')\n\
               c.Spawner.args.extend(['--a'])\n\
               c.Spawner.args += ['--b']\n\
               c.Spawner.environment['X'] = '1'\n\
               c.Authenticator.admin_users.add('root')\n\
               c.Spawner.cmd\n";
    let config = run(src).unwrap();
    let keep = config.table["Spawner"]["env_keep"].as_array().unwrap();
    assert_eq!(
        keep.first().and_then(Toml::as_str),
        Some("CONDA_DEFAULT_ENV")
    );
    assert_eq!(keep.last().and_then(Toml::as_str), Some("MY_VAR"));
    assert_eq!(config.table["Spawner"]["args"], strings(&["--a", "--b"]));
    assert_eq!(
        config.table["Authenticator"]["admin_users"],
        strings(&["root"])
    );
    assert_eq!(
        config.table["Spawner"]["environment"]["X"].as_str(),
        Some("1")
    );
    // Only reading an option sets nothing.
    assert!(
        !config.table["Spawner"]
            .as_table()
            .unwrap()
            .contains_key("cmd")
    );
    assert_eq!(config.lines[&("Spawner".into(), "args".into())], 3);
}

#[test]
fn os_sys_and_file() {
    let src = "import os, sys\nfrom os import environ, path\nfrom os.path import join as pjoin\n\
               here = os.path.dirname(os.path.abspath(__file__))\n\
               c.JupyterHub.db_url = 'sqlite:///' + os.path.join(here, 'jupyterhub.sqlite')\n\
               c.JupyterHub.hub_port = int(os.environ['HUB_PORT'])\n\
               c.GenericOAuthenticator.client_secret = os.environ.get('OAUTH_SECRET', '')\n\
               c.GenericOAuthenticator.client_id = os.getenv('NOPE', 'default-id')\n\
               c.JupyterHub.cookie_secret_file = path.expanduser('~/secret')\n\
               c.Spawner.notebook_dir = pjoin(environ.get('NOPE2') or '/data', 'x')\n\
               c.JupyterHub.services = [{'name': 'cull', 'command': [sys.executable, '-m', 'jupyterhub_idle_culler'], 'cwd': sys.prefix}]\n\
               c.JupyterHub.pid_file = os.getcwd() + '/hub.pid' if 'HOME' in os.environ else ''\n";
    let config = run(src).unwrap();
    let hub = &config.table["JupyterHub"];
    assert_eq!(
        hub["db_url"].as_str(),
        Some("sqlite:////etc/jupyterhub/jupyterhub.sqlite")
    );
    assert_eq!(hub["hub_port"].as_integer(), Some(9000));
    assert_eq!(hub["cookie_secret_file"].as_str(), Some("/home/hub/secret"));
    assert_eq!(hub["pid_file"].as_str(), Some("/srv/hub/hub.pid"));
    let oauth = &config.table["GenericOAuthenticator"];
    assert_eq!(oauth["client_secret"].as_str(), Some("s3cret"));
    assert_eq!(oauth["client_id"].as_str(), Some("default-id"));
    assert_eq!(
        config.table["Spawner"]["notebook_dir"].as_str(),
        Some("/data/x")
    );
    let service = &hub["services"][0];
    assert_eq!(
        service["command"][0].as_str(),
        Some("/opt/venv/bin/python3")
    );
    assert_eq!(service["cwd"].as_str(), Some("/opt/venv"));
}

#[test]
fn loops_comprehensions_and_builtins() {
    let src = "users = ['ann', 'bob']\n\
               c.Authenticator.allowed_users = set()\n\
               for u in users + ['cy']:\n    if u != 'bob':\n        c.Authenticator.allowed_users.add(u)\n\
               c.Authenticator.admin_users = [u.upper() for u in users if u.startswith('a')]\n\
               c.Spawner.environment = {k: str(v) for k, v in zip(['A', 'B'], range(2))}\n\
               c.Spawner.args = sorted(list(dict(b=1, a=2).keys())) + [str(max(3, 9)), str(sum([1, 2]))]\n\
               c.JupyterHub.load_roles = [{'name': f'r{i}', 'scopes': ['self']} for i, _ in enumerate('ab')]\n";
    let config = run(src).unwrap();
    assert_eq!(
        config.table["Authenticator"]["allowed_users"],
        strings(&["ann", "cy"])
    );
    assert_eq!(
        config.table["Authenticator"]["admin_users"],
        strings(&["ANN"])
    );
    assert_eq!(
        toml::to_string(&config.table["Spawner"]["environment"]).unwrap(),
        "A = \"0\"\nB = \"1\"\n"
    );
    assert_eq!(
        config.table["Spawner"]["args"],
        strings(&["a", "b", "9", "3"])
    );
    assert_eq!(
        config.table["JupyterHub"]["load_roles"][1]["name"].as_str(),
        Some("r1")
    );
}

#[test]
fn imported_classes_are_references_for_class_options() {
    let src = "from oauthenticator.generic import GenericOAuthenticator\n\
               import dockerspawner\n\
               c.JupyterHub.authenticator_class = GenericOAuthenticator\n\
               c.JupyterHub.spawner_class = dockerspawner.DockerSpawner\n";
    let config = run(src).unwrap();
    assert_eq!(
        config.table["JupyterHub"]["authenticator_class"].as_str(),
        Some("oauthenticator.generic.GenericOAuthenticator")
    );
    assert_eq!(
        config.table["JupyterHub"]["spawner_class"].as_str(),
        Some("dockerspawner.DockerSpawner")
    );
}

#[test]
fn callables_are_refused_naming_line_and_option() {
    let e = refusal(
        "c = get_config()\n\ndef my_hook(spawner):\n    spawner.environment['X'] = '1'\n\n\
         c.Spawner.pre_spawn_hook = my_hook\n",
    );
    assert_eq!(e.line, 6);
    assert!(
        e.message.starts_with("Spawner.pre_spawn_hook: "),
        "{}",
        e.message
    );
    assert!(e.message.contains("my_hook"), "{}", e.message);
    assert!(
        e.message.ends_with("for its usual job use Spawner.environment, Spawner.mem_limit/cpu_limit or Spawner.profile_list"),
        "{}",
        e.message
    );
    let e = refusal("x = 1\nc.JupyterHub.default_url = lambda handler: '/hub/home'\n");
    assert_eq!(e.line, 2);
    assert!(
        e.message.contains("JupyterHub.default_url"),
        "{}",
        e.message
    );
    let e = refusal("class S:\n    pass\n\nc.JupyterHub.spawner_class = S\n");
    assert_eq!(e.line, 4);
    assert!(
        e.message.contains("Python class S (line 1)"),
        "{}",
        e.message
    );
}

#[test]
fn code_and_objects_are_refused_naming_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "a = 1\nc.JupyterHub.cookie_secret = open('/x').read()\n",
            2,
            "open()",
        ),
        ("exec('x = 1')\n", 1, "exec()"),
        ("x = eval('1')\n", 1, "eval()"),
        (
            "from kubespawner import KubeSpawner\n\nc.JupyterHub.spawner_class = KubeSpawner()\n",
            3,
            "creates a Python object",
        ),
        (
            "from oauthenticator.generic import GenericOAuthenticator\nc.Spawner.args = [GenericOAuthenticator]\n",
            2,
            "only *_class options take a class",
        ),
        ("import os\nos.environ['X'] = '1'\n", 2, "os.environ"),
        (
            "from jupyter_client.localinterfaces import public_ips\nc.JupyterHub.hub_ip = public_ips()[0]\n",
            2,
            "calls imported Python code",
        ),
        (
            "import os\nc.Spawner.args = os.listdir('/')\n",
            2,
            "os.listdir",
        ),
        ("import sys\nc.Spawner.args = sys.argv\n", 2, "sys.argv"),
        ("while True:\n    pass\n", 1, "'while'"),
        (
            "try:\n    import x\nexcept ImportError:\n    pass\n",
            1,
            "'try'",
        ),
        (
            "import foo\nif foo.enabled:\n    pass\n",
            2,
            "cannot evaluate",
        ),
        (
            "import foo\nfor x in foo.items:\n    pass\n",
            2,
            "cannot loop",
        ),
        (
            "c.Spawner.args = [None]\n",
            1,
            "Spawner.args: None inside a list",
        ),
        (
            "c.JupyterHub.hub_port = c.JupyterHub.port + 1\n",
            1,
            "before this file sets it",
        ),
        ("x = undefined_name\n", 1, "NameError"),
        ("c.Spawner.args = 1 / 0\n", 1, "ZeroDivisionError"),
        ("import os\nx = os.environ['NOT_SET']\n", 2, "KeyError"),
        ("c.port = 1\n", 1, "c.Class.port"),
        ("def f():\n    return 1\nx = f()\n", 3, "calling f (line 1)"),
        ("c.Spawner.args = ['a',\n  'b'\n", 1, "invalid syntax"),
        ("x = b'bytes'\n", 1, "bytes"),
    ];
    for (src, line, needle) in cases {
        let e = refusal(src);
        assert_eq!(e.line, *line, "{src}: {e:?}");
        assert!(e.message.contains(needle), "{src}: {e:?}");
    }
}

#[test]
fn toml_output_for_a_typical_file() {
    let text = toml_of(
        "c.JupyterHub.services = [\n    {\n        'name': 'idle-culler',\n        'admin': True,\n\
         \x20       'command': ['python3', '-m', 'jupyterhub_idle_culler', '--timeout=3600'],\n    }\n]\n",
    );
    assert!(text.contains("[[JupyterHub.services]]"), "{text}");
    assert!(text.contains("admin = true"), "{text}");
}

#[test]
fn application_options_of_the_seed_page() {
    let config =
        run("c.Application.show_config = True\nc.Application.log_level = 'DEBUG'\n").unwrap();
    assert_eq!(config.show_config, Some(false));
    assert!(!config.table.contains_key("Application"));
    assert_eq!(
        config.table["JupyterHub"]["log_level"].as_str(),
        Some("DEBUG")
    );
    assert_eq!(config.lines[&("JupyterHub".into(), "log_level".into())], 2);
    // JupyterHub's own section wins over its base class.
    let config = run(
        "c.JupyterHub.log_level = 'WARN'\nc.Application.log_level = 'DEBUG'\nc.JupyterHub.show_config_json = True\n",
    )
    .unwrap();
    assert_eq!(
        config.table["JupyterHub"]["log_level"].as_str(),
        Some("WARN")
    );
    assert_eq!(config.show_config, Some(true));
    assert!(
        !config.table["JupyterHub"]
            .as_table()
            .unwrap()
            .contains_key("show_config_json")
    );
}

#[test]
fn runaway_loops_are_stopped() {
    let e = refusal("n = 0\nfor i in range(10000):\n    for j in range(1000):\n        n += 1\n");
    assert!(e.message.contains("too many steps"), "{e:?}");
}

#[test]
fn hostile_input_is_an_error_not_a_crash() {
    let deep = format!("x = {}1{}\n", "(".repeat(5000), ")".repeat(5000));
    assert!(refusal(&deep).message.contains("nested too deeply"));
    let unary = format!("x = {}1\n", "-".repeat(5000));
    assert!(refusal(&unary).message.contains("nested too deeply"));
    let e = refusal("x = []\nx.append(x)\nc.Spawner.args = x\n");
    assert!(e.message.contains("nested more than 50"), "{e:?}");
    assert!(refusal("x = int('1', 1)\n").message.contains("base"));
    assert!(
        refusal("x = f'{1:99999999999999999999999}'\n")
            .message
            .contains("width")
    );
    assert!(
        refusal("x = -9223372036854775807 - 1\ny = x // -1\n")
            .message
            .contains("overflow")
    );
    assert!(
        refusal("x = -9223372036854775807 - 1\ny = x % -1\n")
            .message
            .contains("overflow")
    );
    // A list holding itself still prints, as Python's does.
    let config =
        run("x = []\nx.append(x)\nc.Spawner.default_url = repr(x) if x == x else ''\n").unwrap();
    assert!(
        config.table["Spawner"]["default_url"]
            .as_str()
            .unwrap()
            .contains("[...]")
    );
}

#[test]
fn every_prefix_of_a_file_is_read_or_refused_without_panic() {
    let src = "import os, sys\nc = get_config()\nname = f'{os.getenv(\"HOME\", \"~\")!r:>8}'\n\
               c.Spawner.args = ['a', *[x.upper() for x in 'bc' if x], '%s-%03d' % ('q', 7)]\n\
               c.Spawner.environment = {'K': '{0}{n}'.format(1, n=2), **{'L': r'\\d'}}\n\
               if len(c.Spawner.args) >= 2 and not None:\n    c.Spawner.args += ['''x\ny''']\n\
               elif 1 < 2 < 3:\n    pass\nelse:\n    c.Spawner.args.append(-1 // 3 ** 2)\n\
               for i, v in enumerate(range(3)):\n    c.Authenticator.admin_users.add(str(i))\n\
               def hook(s):\n    return s\nc.JupyterHub.spawner_class = 'simple' if hook else None\n";
    let whole = run(src).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        whole.table["Authenticator"]["admin_users"],
        strings(&["0", "1", "2"])
    );
    let mut ends: Vec<usize> = src.char_indices().map(|(i, _)| i).collect();
    ends.push(src.len());
    for end in ends {
        // Each prefix gives a result or a refusal with a line inside the file.
        if let Err(e) = run(&src[..end]) {
            assert!(e.line >= 1 && e.line <= 20, "{end}: {e:?}");
        }
    }
}

#[test]
fn ip_port_and_base_url_become_bind_url() {
    let bind = |src: &str| {
        get(src, "JupyterHub", "bind_url")
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        bind("c.JupyterHub.ip = '0.0.0.0'\n"),
        "http://0.0.0.0:8000/"
    );
    assert_eq!(
        bind("c.JupyterHub.port = 443\nc.JupyterHub.base_url = 'jupyter'\n"),
        "http://:443/jupyter/"
    );
    assert_eq!(
        bind("c.JupyterHub.bind_url = 'https://hub.example:9999/x/'\nc.JupyterHub.ip = '::1'\n"),
        "https://[::1]:8000/x/"
    );
    let config = run("\nc.JupyterHub.port = 8001\n").unwrap();
    assert!(
        !config.table["JupyterHub"]
            .as_table()
            .unwrap()
            .contains_key("port")
    );
    assert_eq!(config.lines[&("JupyterHub".into(), "bind_url".into())], 2);
    assert_eq!(refusal("c.JupyterHub.port = '80'\n").line, 1);
}

#[test]
fn upstream_state_files_are_the_defaults_of_a_python_file() {
    let config = run("c.Spawner.default_url = '/lab'\n").unwrap();
    assert_eq!(
        config.table["JupyterHub"]["db_url"].as_str(),
        Some("sqlite:///jupyterhub.sqlite")
    );
    assert_eq!(
        config.table["JupyterHub"]["cookie_secret_file"].as_str(),
        Some("jupyterhub_cookie_secret")
    );
    let config = run("c.JupyterHub.db_url = 'postgresql://h/db'\n").unwrap();
    assert_eq!(
        config.table["JupyterHub"]["db_url"].as_str(),
        Some("postgresql://h/db")
    );
}
