using Lguest.Devices;
using Lguest.Cli;

namespace Lguest.Tests.Cli;

public class RunArgumentsTests
{
    private static RunArguments Parse(params string[] args)
    {
        Assert.That(RunArguments.TryParse(args, out RunArguments parsed, out string? error), Is.True, error);
        return parsed;
    }

    private static string Refuse(params string[] args)
    {
        Assert.That(RunArguments.TryParse(args, out _, out string? error), Is.False);
        return error!;
    }

    [Test]
    public void Memory_kernel_and_kernel_arguments_are_positional()
    {
        RunArguments a = Parse("512", "vmlinux", "console=ttyS0", "quiet");
        Assert.That((a.Memory, a.Kernel, a.CommandLine), Is.EqualTo(("512", "vmlinux", "console=ttyS0 quiet")));
    }

    [Test]
    public void Options_take_their_value_after_an_equals_sign_or_as_the_next_argument()
    {
        RunArguments a = Parse("--initrd=one.img", "--cpus", "2", "--backend", "kvm", "64", "k");
        Assert.That((a.Initrd, a.Cpus, a.Backend), Is.EqualTo(("one.img", 2, "kvm")));
        Assert.That(Parse("--initrd", "two.img", "64", "k").Initrd, Is.EqualTo("two.img"));
    }

    [Test]
    public void Vsock_takes_a_socket_path_and_an_optional_guest_cid()
    {
        DeviceOption plain = Parse("--vsock=/run/v.sock", "64", "k").Devices.Single();
        DeviceOption withCid = Parse("--vsock", "/run/v.sock:42", "64", "k").Devices.Single();
        DeviceOption colonInPath = Parse("--vsock=/run/a:b/v.sock", "64", "k").Devices.Single();
        Assert.Multiple(() =>
        {
            Assert.That((plain.Kind, plain.Value, plain.GuestCid), Is.EqualTo((DeviceKind.Vsock, "/run/v.sock", 3UL)));
            Assert.That((withCid.Value, withCid.GuestCid), Is.EqualTo(("/run/v.sock", 42UL)));
            Assert.That((colonInPath.Value, colonInPath.GuestCid), Is.EqualTo(("/run/a:b/v.sock", 3UL)));
        });
    }

    [TestCase("/run/v.sock:2", "the guest CID is not a number from 3")]
    [TestCase("/run/v.sock:4294967295", "the guest CID is not a number from 3")]
    [TestCase("/run/v.sock:99999999999999999999", "the guest CID is not a number from 3")]
    [TestCase(":5", "empty")]
    [TestCase("", "empty")]
    public void A_bad_vsock_value_is_refused_in_one_line(string value, string why) =>
        Assert.That(Refuse("--vsock=" + value, "64", "k"), Does.StartWith($"--vsock '{value}': ").And.Contains(why));

    [Test]
    public void A_second_vsock_is_refused() =>
        Assert.That(Refuse("--vsock=a", "--vsock=b", "64", "k"), Does.Contain("--vsock given twice"));

    [Test]
    public void Poll_us_sets_the_devices_poll_time_and_is_absent_by_default()
    {
        Assert.That(Parse("64", "k").PollMicroseconds, Is.Null);
        Assert.That(Parse("--poll-us=0", "64", "k").PollMicroseconds, Is.EqualTo(0));
        Assert.That(Parse("--poll-us", "100", "64", "k").PollMicroseconds, Is.EqualTo(100));
        Assert.That(Parse("64", "k", "--poll=1000").PollMicroseconds, Is.EqualTo(1000), "an unambiguous prefix, after the kernel");
    }

    [TestCase("-1")]
    [TestCase("1001")]
    [TestCase("32us")]
    [TestCase("")]
    public void Poll_us_outside_0_to_1000_is_refused(string value)
    {
        Assert.That(Refuse($"--poll-us={value}", "64", "k"), Is.EqualTo($"--poll-us '{value}' is not a number of microseconds from 0 to 1000"));
    }

    [Test]
    public void Flags_are_recognised()
    {
        RunArguments a = Parse("--verbose", "--no-reboot", "64", "k");
        Assert.That((a.Verbose, a.NoReboot), Is.EqualTo((true, true)));
    }

    [Test]
    public void Launcher_options_after_the_kernel_are_still_the_launcher_s()
    {
        RunArguments a = Parse("512", "vmlinuz", "--initrd=initrd.img", "console=ttyS0");
        Assert.That((a.Initrd, a.CommandLine), Is.EqualTo(("initrd.img", "console=ttyS0")));
    }

    [Test]
    public void Unknown_options_after_the_kernel_go_to_the_kernel()
    {
        Assert.That(Parse("64", "k", "--weird", "quiet").CommandLine, Is.EqualTo("--weird quiet"));
    }

    [Test]
    public void A_double_dash_after_the_kernel_passes_the_rest_verbatim()
    {
        Assert.That(Parse("64", "k", "ro", "--", "--verbose", "single").CommandLine, Is.EqualTo("ro -- --verbose single"));
    }

    [Test]
    public void A_double_dash_before_the_positionals_only_ends_the_options()
    {
        RunArguments a = Parse("--", "64", "-k", "quiet");
        Assert.That((a.Memory, a.Kernel, a.CommandLine), Is.EqualTo(("64", "-k", "quiet")));
    }

    [Test]
    public void Help_needs_nothing_else()
    {
        Assert.That(Parse("--help").Help, Is.True);
    }

    [Test]
    public void A_missing_kernel_is_refused()
    {
        Assert.That(Refuse("64"), Is.EqualTo("missing vmlinux"));
    }

    [Test]
    public void An_unknown_option_is_refused_by_name()
    {
        Assert.That(Refuse("--frobnicate", "64", "k"), Does.Contain("--frobnicate"));
    }

    [Test]
    public void An_option_without_its_value_is_refused()
    {
        Assert.That(Refuse("--initrd"), Is.EqualTo("option '--initrd' requires an argument"));
    }

    [Test]
    public void A_bad_cpu_count_is_refused()
    {
        Assert.That(Refuse("--cpus=0", "64", "k"), Does.Contain("--cpus"));
        Assert.That(Refuse("--cpus=many", "64", "k"), Does.Contain("--cpus"));
    }

    [Test]
    public void An_unknown_backend_is_refused()
    {
        Assert.That(Refuse("--backend=xen", "64", "k"), Does.Contain("auto, kvm, lguest"));
    }

    [Test]
    public void The_seed_s_whole_command_line_parses()
    {
        RunArguments a = Parse("--verbose", "--tunnet=192.168.19.1", "--block=disk.img", "--rng", "--initrd=initrd.img",
            "--username=nobody", "--chroot=/var/empty", "64", "vmlinux", "root=/dev/vda", "init=/bin/sh");
        Assert.That((a.Verbose, a.Initrd, a.Username, a.Chroot, a.Memory, a.Kernel, a.CommandLine),
            Is.EqualTo((true, "initrd.img", "nobody", "/var/empty", "64", "vmlinux", "root=/dev/vda init=/bin/sh")));
        Assert.That(a.Devices.Select(d => (d.Kind, d.Value)), Is.EqualTo(new (DeviceKind, string?)[]
        {
            (DeviceKind.Tunnet, "192.168.19.1"), (DeviceKind.Block, "disk.img"), (DeviceKind.Rng, null),
        }));
        Assert.That(a.Tunnets.Single().Address!.ToString(), Is.EqualTo("192.168.19.1"));
    }

    [Test]
    public void Devices_keep_the_order_of_their_options_however_they_interleave()
    {
        RunArguments a = Parse("--rng", "--block", "a.img", "--tunnet", "bridge:br0", "--block=b.img", "64", "k", "--rng");
        Assert.That(a.Devices.Select(d => (d.Kind, d.Value)), Is.EqualTo(new (DeviceKind, string?)[]
        {
            (DeviceKind.Rng, null), (DeviceKind.Block, "a.img"), (DeviceKind.Tunnet, "bridge:br0"), (DeviceKind.Block, "b.img"), (DeviceKind.Rng, null),
        }));
    }

    [Test]
    public void Kernel_arguments_are_joined_by_single_spaces_and_keep_their_own_spaces()
    {
        Assert.That(Parse("64", "k", "a", "b=\"x  y\"", "c").CommandLine, Is.EqualTo("a b=\"x  y\" c"));
    }

    [Test]
    public void Short_verbose_may_repeat()
    {
        Assert.That(Parse("-v", "64", "k").Verbose, Is.True);
        Assert.That(Parse("-vv", "64", "k").Verbose, Is.True);
    }

    [Test]
    public void A_long_option_may_be_shortened_to_an_unambiguous_prefix_as_getopt_long_allows()
    {
        RunArguments a = Parse("--verb", "--init=i.img", "--bl", "d.img", "--str", "64", "k");
        Assert.That((a.Verbose, a.Initrd, a.Strict), Is.EqualTo((true, "i.img", true)));
        Assert.That(a.Devices.Single(), Is.EqualTo(new DeviceOption(DeviceKind.Block, "d.img")));
    }

    [Test]
    public void The_disks_io_engine_is_io_uring_unless_io_engine_says_threads_or_sync_and_anything_else_is_refused()
    {
        Assert.That(Parse("64", "k").BlockIo, Is.EqualTo(VirtioBlockIoEngine.IoUring));
        Assert.That(Parse("--io-engine=sync", "64", "k").BlockIo, Is.EqualTo(VirtioBlockIoEngine.Sync));
        Assert.That(Parse("--io-engine=threads", "64", "k").BlockIo, Is.EqualTo(VirtioBlockIoEngine.Threads));
        Assert.That(Parse("--io-engine", "io_uring", "64", "k").BlockIo, Is.EqualTo(VirtioBlockIoEngine.IoUring));
        Assert.That(Refuse("--io-engine=aio", "64", "k"), Is.EqualTo("--io-engine 'aio' is not io_uring, threads or sync"));
    }

    [Test]
    public void The_disks_serve_lone_requests_on_the_vcpu_unless_io_on_vcpu_says_off_and_anything_else_is_refused()
    {
        Assert.That(Parse("64", "k").IoOnVcpu, Is.True);
        Assert.That(Parse("--io-on-vcpu=off", "64", "k").IoOnVcpu, Is.False);
        Assert.That(Parse("--io-on-vcpu", "on", "64", "k").IoOnVcpu, Is.True);
        Assert.That(Refuse("--io-on-vcpu=maybe", "64", "k"), Is.EqualTo("--io-on-vcpu 'maybe' is not on or off"));
    }

    [Test]
    public void The_system_call_filter_is_on_unless_seccomp_says_off_or_log_and_anything_else_is_refused()
    {
        Assert.That(Parse("64", "k").Seccomp, Is.EqualTo(Lguest.Seccomp.SeccompMode.On));
        Assert.That(Parse("--seccomp=off", "64", "k").Seccomp, Is.EqualTo(Lguest.Seccomp.SeccompMode.Off));
        Assert.That(Parse("--seccomp", "log", "64", "k").Seccomp, Is.EqualTo(Lguest.Seccomp.SeccompMode.Log));
        Assert.That(Refuse("--seccomp=strict", "64", "k"), Is.EqualTo("--seccomp 'strict' is not one of on, off, log"));
    }

    [Test]
    public void Jail_is_off_unless_given_takes_no_value_and_may_follow_the_kernel()
    {
        Assert.That(Parse("64", "k").Jail, Is.False);
        Assert.That(Parse("--jail", "64", "k").Jail, Is.True);
        Assert.That(Parse("64", "k", "--jail").Jail, Is.True);
        Assert.That(Refuse("--jail=yes", "64", "k"), Does.Contain("--jail"));
    }

    [Test]
    public void An_ambiguous_prefix_is_refused_with_the_possibilities()
    {
        Assert.That(Refuse("--b=x", "64", "k"), Is.EqualTo("option '--b' is ambiguous; possibilities: '--block' '--backend'"));
    }

    [Test]
    public void An_option_that_takes_no_value_refuses_one()
    {
        Assert.That(Refuse("--rng=yes", "64", "k"), Is.EqualTo("option '--rng' doesn't allow an argument"));
    }

    [Test]
    public void Strict_is_off_unless_asked_for()
    {
        Assert.That(Parse("64", "k").Strict, Is.False);
        Assert.That(Parse("--strict", "64", "k").Strict, Is.True);
    }

    [Test]
    public void A_tunnet_that_does_not_parse_is_refused_with_its_reason()
    {
        Assert.That(Refuse("--tunnet=300.1.1.1", "64", "k"), Does.StartWith("--tunnet '300.1.1.1': "));
    }

    [Test]
    public void An_unknown_short_option_before_the_kernel_is_refused()
    {
        Assert.That(Refuse("-x", "64", "k"), Is.EqualTo("invalid option -- 'x'"));
    }

    [Test]
    public void Short_options_after_the_kernel_that_are_not_ours_go_to_the_kernel()
    {
        Assert.That(Parse("64", "k", "init=/bin/sh", "-s").CommandLine, Is.EqualTo("init=/bin/sh -s"));
    }

    [Test]
    public void Empty_values_are_refused()
    {
        Assert.That(Refuse("--block=", "64", "k"), Is.EqualTo("--block needs a file name"));
        Assert.That(Refuse("--username=", "64", "k"), Is.EqualTo("--username needs a user name"));
        Assert.That(Refuse("--chroot=", "64", "k"), Is.EqualTo("--chroot needs a directory"));
    }

    [Test]
    public void A_second_initrd_username_or_chroot_is_refused_rather_than_silently_replacing_the_first()
    {
        Assert.That(Refuse("--initrd=a.img", "--initrd", "b.img", "64", "k"), Is.EqualTo("--initrd given twice ('a.img', then 'b.img')"));
        Assert.That(Refuse("--username=a", "64", "k", "--username=b"), Is.EqualTo("--username given twice ('a', then 'b')"));
        Assert.That(Refuse("--chroot=/a", "--chroot=/b", "64", "k"), Is.EqualTo("--chroot given twice ('/a', then '/b')"));
    }

    [Test]
    public void A_block_value_starting_with_ro_colon_attaches_the_rest_read_only_and_dot_slash_names_a_file_called_ro_colon()
    {
        RunArguments a = Parse("--block=ro:base.img", "--block", "ro:/tmp/x,y.img", "--block=disk.img", "--block=./ro:odd", "64", "k");
        Assert.That(a.Devices, Is.EqualTo(new[]
        {
            new DeviceOption(DeviceKind.Block, "base.img", ReadOnly: true),
            new DeviceOption(DeviceKind.Block, "/tmp/x,y.img", ReadOnly: true),
            new DeviceOption(DeviceKind.Block, "disk.img"),
            new DeviceOption(DeviceKind.Block, "./ro:odd"),
        }));
        Assert.That(Refuse("--block=ro:", "64", "k"), Is.EqualTo("--block needs a file name"));
    }

    [Test]
    public void A_share_is_a_folder_and_the_tag_after_its_last_colon_with_ro_at_the_end_for_read_only()
    {
        RunArguments a = Parse("--share=/srv/data:data", "--rng", "--share", "/srv/in:put:in:ro", "--share=rel/dir:x:ro", "64", "k");
        Assert.That(a.Devices, Is.EqualTo(new[]
        {
            new DeviceOption(DeviceKind.Share, "/srv/data", Tag: "data"),
            new DeviceOption(DeviceKind.Rng, null),
            new DeviceOption(DeviceKind.Share, "/srv/in:put", ReadOnly: true, Tag: "in"),
            new DeviceOption(DeviceKind.Share, "rel/dir", ReadOnly: true, Tag: "x"),
        }));
        Assert.Multiple(() =>
        {
            Assert.That(Refuse("--share=/srv", "64", "k"), Is.EqualTo("--share '/srv' is not <dir>:<tag>[:ro]"));
            Assert.That(Refuse("--share=/srv:", "64", "k"), Is.EqualTo("--share '/srv:' is not <dir>:<tag>[:ro]"));
            Assert.That(Refuse("--share=:tag", "64", "k"), Is.EqualTo("--share ':tag' is not <dir>:<tag>[:ro]"));
            Assert.That(Refuse("--share=/srv:ro", "64", "k"), Is.EqualTo("--share '/srv:ro' is not <dir>:<tag>[:ro]"));
            Assert.That(Refuse($"--share=/srv:{new string('t', 37)}", "64", "k"), Does.Contain("longer than 36 bytes"));
            Assert.That(Refuse("--share=/a:t", "--share=/b:t", "64", "k"), Is.EqualTo("--share '/b:t': the tag 't' is already used by another --share"));
        });
    }

    [Test]
    public void The_kernel_console_is_virtio_when_the_last_console_argument_names_an_hvc_device()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Parse("64", "k", "console=hvc0").KernelConsoleIsVirtio, Is.True);
            Assert.That(Parse("64", "k", "console=ttyS0", "quiet", "console=hvc0").KernelConsoleIsVirtio, Is.True);
            Assert.That(Parse("64", "k", "console=ttyS0 console=hvc1").KernelConsoleIsVirtio, Is.True, "one argument holding two words");
            Assert.That(Parse("64", "k", "console=hvc0", "console=ttyS0,115200").KernelConsoleIsVirtio, Is.False);
            Assert.That(Parse("64", "k", "console=ttyS0").KernelConsoleIsVirtio, Is.False);
            Assert.That(Parse("64", "k", "earlycon=hvc0", "quiet").KernelConsoleIsVirtio, Is.False, "no console= at all");
            Assert.That(Parse("64", "k").KernelConsoleIsVirtio, Is.False);
        });
    }
}
