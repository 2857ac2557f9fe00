#!/usr/bin/perl
# Perl DBI with DBD::MariaDB (Debian's libdbd-mariadb-perl, on libmariadb) and server-side
# prepared statements: `mariadb_server_prepare=1` plus `mariadb_server_prepare_disable_fallback=1`
# so that a failed COM_STMT_PREPARE is reported instead of silently retried as text. Parameters
# are bound with SQL types (bind_param). The text-protocol checks use a second handle without
# server prepare (the driver's default); so does the CALL (the driver cannot read several result
# sets of a server-side prepared statement).
#
#   perl test/clients/perl-dbi.pl HOST PORT USER PASSWORD DATABASE [--direct]
#
# Output contract: see common.mjs (one JSON line per check).
use strict;
use warnings;
use utf8;
use DBI qw(:sql_types);
use JSON::PP;
use Time::HiRes qw(time);
use Digest::SHA qw(sha1_hex);

my @argv = @ARGV;
my $DIRECT = grep { $_ eq '--direct' } @argv;
my @pos = grep { $_ ne '--direct' } @argv;
my $HOST = $pos[0] // $ENV{SLUICE_HOST} // '127.0.0.1';
my $PORT = $pos[1] // $ENV{SLUICE_PORT} // '8066';
my $USER = $pos[2] // $ENV{SLUICE_USER} // 'app';
my $PASSWORD = $pos[3] // $ENV{SLUICE_PASSWORD} // 'app';
my $DATABASE = $pos[4] // $ENV{SLUICE_DATABASE} // 'sluice_test';

my $P = 'cc_perl';
my $SPREAD_N = 200;
my @REPLICA_IDS = (2, 3);
my $PRIMARY_ID = 1;
my $json = JSON::PP->new->utf8->canonical->allow_nonref->allow_blessed->convert_blessed;
$| = 1;
my $failed = 0;

my %ROW = (
    i => -2147483648,
    b => '9007199254740993',
    d => '12345678901234.123456',
    f => '3.141592653589793',    # a string: Perl would stringify the NV with 15 digits
    s => "h\x{e9}llo w\x{f6}rld \x{1F42C} \x{2713}",
    dt => '2024-02-29',
    ts => '2024-02-29 23:59:58.123456',
    bl => join('', map { chr } 0 .. 255),
    nn => undef,
);
my @COLS = qw(i b d f s dt ts bl nn);

sub emit {
    my ($name, $res, $ms) = @_;
    $failed++ unless $res->{ok};
    my %line = (check => $name, ok => ($res->{ok} ? JSON::PP::true : JSON::PP::false), detail => $res->{detail}, ms => $ms);
    $line{skip} = $res->{skip} if defined $res->{skip};
    print $json->encode(\%line), "\n";
}

sub check {
    my ($name, $fn) = @_;
    my $t = time;
    my $res = eval {
        my $r = $fn->();
        (ref $r eq 'HASH' && exists $r->{ok}) ? $r : { ok => 1, detail => $r };
    };
    if (!defined $res) {
        my $err = $@ || 'unknown error';
        $err =~ s/\s+$//;
        $res = { ok => 0, detail => { error => "$err", errno => (defined $DBI::err ? $DBI::err + 0 : undef), sqlState => $DBI::state } };
    }
    emit($name, $res, int((time - $t) * 1000));
}

sub expect_ { my ($cond, $what) = @_; die "$what\n" unless $cond; }

sub connect_ {
    my (%opt) = @_;
    my $dsn = "DBI:MariaDB:database=$DATABASE;host=$HOST;port=$PORT;mariadb_connect_timeout=10;mariadb_read_timeout=30;mariadb_write_timeout=30";
    $dsn .= ';mariadb_server_prepare=1;mariadb_server_prepare_disable_fallback=1' if $opt{ps};
    $dsn .= ';mariadb_multi_statements=1' if $opt{multi};
    return DBI->connect($dsn, $USER, $PASSWORD, { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
}

sub replica {
    my ($id) = @_;
    return { ok => 1, detail => { serverId => $id + 0 }, skip => 'direct to the primary: routing not asserted' } if $DIRECT;
    return { ok => (grep { $_ == $id } @REPLICA_IDS) ? 1 : 0, detail => { serverId => $id + 0 } };
}
sub primary { my ($id) = @_; return { ok => $id == $PRIMARY_ID ? 1 : 0, detail => { serverId => $id + 0 } }; }

sub canon {
    my ($k, $v) = @_;
    return undef unless defined $v;
    return unpack('H*', $v) if $k eq 'bl';
    # DBD::MariaDB hands DOUBLE columns of a server-side prepared statement back as a string of 15
    # significant digits; exactness is checked on the server (f_exact) instead.
    return sprintf('%.15g', $v) if $k eq 'f';
    return "$v";
}

check('connect', sub {
    my $dbh = connect_(ps => 1);
    my $info = { serverVersion => $dbh->{mariadb_serverinfo}, clientVersion => $dbh->{mariadb_clientinfo}, driver => $DBD::MariaDB::VERSION };
    $dbh->disconnect;
    return $info;
});

check('setup', sub {
    my $dbh = connect_();
    for my $sql (
        "DROP TABLE IF EXISTS ${P}_types",
        "CREATE TABLE ${P}_types (id INT PRIMARY KEY, i INT, b BIGINT, d DECIMAL(20,6), f DOUBLE, "
            . "s VARCHAR(64), dt DATE, ts DATETIME(6), bl BLOB, nn INT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "DROP TABLE IF EXISTS ${P}_big",
        "CREATE TABLE ${P}_big (id INT PRIMARY KEY, data LONGBLOB) ENGINE=InnoDB",
        "DROP PROCEDURE IF EXISTS ${P}_two",
        "CREATE PROCEDURE ${P}_two(IN x INT) BEGIN SELECT x AS a; SELECT CONCAT('two-', x) AS b; END",
        "INSERT INTO ${P}_types (id, i) VALUES (1000, 0)",
    ) { $dbh->do($sql); }
    $dbh->disconnect;
    return 'tables and procedure created';
});

check('text_autocommit_read_on_replica', sub {
    my $dbh = connect_();
    my ($id) = $dbh->selectrow_array('SELECT @@server_id');
    $dbh->disconnect;
    return replica($id);
});

check('text_transaction_on_primary', sub {
    my $dbh = connect_();
    $dbh->begin_work;    # AutoCommit off: the driver sends SET autocommit=0
    my ($id) = $dbh->selectrow_array('SELECT @@server_id');
    $dbh->commit;        # and SET autocommit=1 afterwards
    $dbh->disconnect;
    return primary($id);
});

check('prepared_autocommit_read_on_replica', sub {
    my $dbh = connect_(ps => 1);
    my $sth = $dbh->prepare('SELECT @@server_id AS sid');
    $sth->execute;
    my ($id) = $sth->fetchrow_array;
    $sth->finish;
    $dbh->disconnect;
    return replica($id);
});

check('prepared_transaction_on_primary', sub {
    my $dbh = connect_(ps => 1);
    $dbh->begin_work;
    my $sth = $dbh->prepare('SELECT @@server_id AS sid, ? AS x');
    $sth->bind_param(1, 1, SQL_INTEGER);
    $sth->execute;
    my ($id) = $sth->fetchrow_array;
    $sth->finish;
    $dbh->commit;
    $dbh->disconnect;
    return primary($id);
});

check('prepared_types_roundtrip', sub {
    my $dbh = connect_(ps => 1);
    my $sth = $dbh->prepare("INSERT INTO ${P}_types (id, i, b, d, f, s, dt, ts, bl, nn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    my @types = (SQL_INTEGER, SQL_INTEGER, SQL_BIGINT, SQL_DECIMAL, SQL_DOUBLE, SQL_VARCHAR, SQL_TYPE_DATE, SQL_TYPE_TIMESTAMP, SQL_BLOB, SQL_INTEGER);
    my @vals = (1, map { $ROW{$_} } @COLS);
    $sth->bind_param($_ + 1, $vals[$_], $types[$_]) for 0 .. $#vals;
    $sth->execute;
    my $q = $dbh->prepare("/*master*/ SELECT i, b, d, f, s, dt, ts, bl, nn, f = CAST('3.141592653589793' AS DOUBLE) AS f_exact FROM ${P}_types WHERE id = ?");
    $q->bind_param(1, 1, SQL_INTEGER);
    $q->execute;
    my $rows = $q->fetchall_arrayref({});
    $dbh->disconnect;
    expect_(@$rows == 1, 'read back ' . scalar(@$rows) . ' rows');
    my %bad;
    for my $k (@COLS) {
        my ($w, $g) = (canon($k, $ROW{$k}), canon($k, $rows->[0]{$k}));
        $bad{$k} = { want => $w, got => $g } if (defined $w ? 1 : 0) != (defined $g ? 1 : 0) || (defined $w && $w ne $g);
    }
    $bad{f_exact} = { want => 1, got => $rows->[0]{f_exact} } unless ($rows->[0]{f_exact} // 0) == 1;
    return { ok => !%bad, detail => %bad ? \%bad : 'all 9 values equal' };
});

check("prepared_${SPREAD_N}x_spread_over_replicas", sub {
    my $dbh = connect_(ps => 1);
    my $sth = $dbh->prepare('SELECT @@server_id AS sid, ? AS echo');
    my %counts;
    for my $k (0 .. $SPREAD_N - 1) {
        $sth->bind_param(1, $k, SQL_INTEGER);
        $sth->execute;
        my ($id, $echo) = $sth->fetchrow_array;
        $sth->finish;
        expect_(defined $echo && $echo == $k, "execution $k: parameter came back as " . ($echo // 'undef'));
        $counts{$id}++;
    }
    $dbh->disconnect;
    my $detail = { executions => $SPREAD_N, byServerId => \%counts };
    return { ok => 1, detail => $detail, skip => 'direct to the primary: routing not asserted' } if $DIRECT;
    my @ids = sort { $a <=> $b } keys %counts;
    return { ok => ("@ids" eq "@REPLICA_IDS") ? 1 : 0, detail => $detail };
});

check('prepared_blob_5mb', sub {
    my $dbh = connect_(ps => 1);
    open(my $fh, '<:raw', '/dev/urandom') or die "urandom: $!";
    read($fh, my $blob, 5 * 1024 * 1024) == 5 * 1024 * 1024 or die 'short read';
    close $fh;
    my $sth = $dbh->prepare("INSERT INTO ${P}_big (id, data) VALUES (?, ?)");
    $sth->bind_param(1, 1, SQL_INTEGER);
    $sth->bind_param(2, $blob, SQL_BLOB);
    $sth->execute;
    my $q = $dbh->prepare("/*master*/ SELECT data FROM ${P}_big WHERE id = ?");
    $q->bind_param(1, 1, SQL_INTEGER);
    $q->execute;
    my ($got) = $q->fetchrow_array;
    $q->finish;
    $dbh->disconnect;
    $got //= '';
    expect_($got eq $blob, 'read back ' . length($got) . ' bytes sha1 ' . sha1_hex($got) . ', sent sha1 ' . sha1_hex($blob));
    return { bytes => length($got), sha1 => sha1_hex($got) };
});

check('multi_statement', sub {
    my $dbh = connect_(multi => 1);
    my $sth = $dbh->prepare('SELECT 1 AS a; SELECT 2 AS b');
    $sth->execute;
    my @sets;
    do { push @sets, $sth->fetchall_arrayref; } while ($sth->more_results);
    $dbh->disconnect;
    expect_(@sets == 2 && $sets[0][0][0] == 1 && $sets[1][0][0] == 2, 'got ' . $json->encode(\@sets));
    return \@sets;
});

check('text_call_two_result_sets', sub {
    # DBD::MariaDB: "Processing of multiple result set is not possible with server side prepare".
    my $dbh = connect_();
    my $sth = $dbh->prepare("CALL ${P}_two(?)");
    $sth->bind_param(1, 7, SQL_INTEGER);
    $sth->execute;
    my @sets;
    do { push @sets, $sth->fetchall_arrayref if $sth->{NUM_OF_FIELDS}; } while ($sth->more_results);
    $dbh->disconnect;
    expect_(@sets == 2 && $sets[0][0][0] == 7 && $sets[1][0][0] eq 'two-7', 'got ' . $json->encode(\@sets));
    return \@sets;
});

check('prepared_duplicate_key_1062', sub {
    my $dbh = connect_(ps => 1);
    my $sth = $dbh->prepare("INSERT INTO ${P}_types (id, i) VALUES (?, ?)");
    $sth->bind_param(1, 1000, SQL_INTEGER);
    $sth->bind_param(2, 1, SQL_INTEGER);
    my $ok = eval { $sth->execute; 1 };
    my ($err, $errstr, $state) = ($sth->err, $sth->errstr, $sth->state);
    $dbh->disconnect;
    return { ok => 0, detail => 'the duplicate insert succeeded' } if $ok;
    return { ok => (defined $err && $err == 1062) ? 1 : 0, detail => { errno => defined $err ? $err + 0 : undef, error => $errstr, sqlState => $state } };
});

check('connection_still_usable_after_error', sub {
    my $dbh = connect_(ps => 1);
    eval { $dbh->do("INSERT INTO ${P}_types (id, i) VALUES (1000, 1)"); };
    my $sth = $dbh->prepare('SELECT ? + 1 AS v');
    $sth->bind_param(1, 41, SQL_INTEGER);
    $sth->execute;
    my ($v) = $sth->fetchrow_array;
    $sth->finish;
    $dbh->disconnect;
    expect_(defined $v && $v == 42, 'got ' . ($v // 'undef'));
    return 'SELECT ? + 1 after the 1062 returned 42';
});

exit($failed == 0 ? 0 : 1);
