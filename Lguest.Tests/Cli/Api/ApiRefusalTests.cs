namespace Lguest.Tests.Cli.Api;

/// <summary>
/// Every refusal before the start: Firecracker's status code (400) and a one-line fault_message for bad JSON, unknown
/// fields, wrong types, missing files, bad ids, calls in the wrong state, unknown paths and methods.
/// </summary>
public class ApiRefusalTests
{
    private static async Task<string> Fault(string method, string path, string? body = null)
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        return await ApiTestServer.ExpectFault(api.SendAsync(new HttpMethod(method), path, body));
    }

    private const string Deserializing = "An error occurred when deserializing the json body of a request: ";

    [TestCase("{", "malformed JSON at line 1 column 2")]
    [TestCase("""{"kernel_image_path": "/k", "foo": 1}""", "unknown field `foo`")]
    [TestCase("""{"kernel_image_path": 5}""", "invalid type at $.kernel_image_path")]
    [TestCase("""{"boot_args": "x"}""", "missing field `kernel_image_path`")]
    [TestCase("""{"kernel_image_path": null}""", "`kernel_image_path` cannot be null")]
    [TestCase("""{"kernel_image_path": "/k", "kernel_image_path": "/k"}""", "duplicate field `kernel_image_path`")]
    [TestCase("[1]", "invalid type")]
    [TestCase("null", "the body is null, not an object")]
    [TestCase("""{"kernel_image_path": "/k", "a\nb": 1}""", "unknown field `a\\u000ab`")]
    public async Task A_body_that_is_not_a_boot_source_is_refused_with_what_is_wrong(string body, string why) =>
        Assert.That(await Fault("PUT", "/boot-source", body), Is.EqualTo(Deserializing + why + "."));

    [Test]
    public async Task A_kernel_that_does_not_exist_is_refused_at_the_put() =>
        Assert.That(await Fault("PUT", "/boot-source", """{"kernel_image_path": "/nonexistent/vmlinux"}"""),
            Is.EqualTo("The kernel file cannot be opened: '/nonexistent/vmlinux': no such file"));

    [Test]
    public async Task An_empty_put_and_an_empty_patch_are_refused()
    {
        Assert.That(await Fault("PUT", "/boot-source"), Is.EqualTo("Empty PUT request."));
        Assert.That(await Fault("PATCH", "/vm"), Is.EqualTo("Empty PATCH request."));
    }

    [Test]
    public async Task A_get_with_a_body_is_refused() =>
        Assert.That(await Fault("GET", "/machine-config", "{}"), Is.EqualTo("GET request cannot have a body."));

    [TestCase("GET", "/nothing", "Invalid request method and/or path: GET nothing.")]
    [TestCase("DELETE", "/boot-source", "Invalid request method and/or path: DELETE boot-source.")]
    [TestCase("POST", "/actions", "Invalid request method and/or path: POST actions.")]
    [TestCase("GET", "/drives/rootfs", "Invalid request method and/or path: GET drives/rootfs.")]
    public async Task A_path_or_method_the_api_does_not_have_is_refused(string method, string path, string fault) =>
        Assert.That(await Fault(method, path, method == "POST" ? "{}" : null), Is.EqualTo(fault));

    [Test]
    public async Task A_body_over_the_limit_is_refused_unread()
    {
        string big = "{\"kernel_image_path\": \"" + new string('a', 60_000) + "\"}";
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        Assert.That(await ApiTestServer.ExpectFault(api.SendAsync(HttpMethod.Put, "/boot-source", big, expectContinue: true)),
            Does.StartWith("Request payload with size").And.Contains("limit of 51200"));
    }

    [TestCase("/drives/root-fs", "API Resource IDs can only contain alphanumeric characters and underscores.")]
    [TestCase("/drives", "The ID cannot be empty.")]
    [TestCase("/network-interfaces/eth.0", "API Resource IDs can only contain alphanumeric characters and underscores.")]
    public async Task A_bad_resource_id_is_refused(string path, string fault) =>
        Assert.That(await Fault("PUT", path, "{}"), Is.EqualTo(fault));

    [Test]
    public async Task A_drive_whose_body_names_another_id_is_refused() =>
        Assert.That(await Fault("PUT", "/drives/rootfs", """{"drive_id": "other", "path_on_host": "/etc/hostname", "is_root_device": true}"""),
            Is.EqualTo("The id from the path does not match the id from the body!"));

    [Test]
    public async Task A_second_root_device_is_refused()
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        await ApiTestServer.ExpectNoContent(api.PutAsync("/drives/a", $$"""{"drive_id": "a", "path_on_host": "{{api.File()}}", "is_root_device": true}"""));
        Assert.That(await ApiTestServer.ExpectFault(api.PutAsync("/drives/b", $$"""{"drive_id": "b", "path_on_host": "{{api.File()}}", "is_root_device": true}""")),
            Is.EqualTo("A root block device already exists!"));
    }

    [TestCase("""{"drive_id": "d", "path_on_host": "/nonexistent", "is_root_device": false}""", "Unable to open the drive's file: '/nonexistent': no such file")]
    [TestCase("""{"drive_id": "d", "path_on_host": "/etc/hostname", "is_root_device": false, "rate_limiter": {"ops": {"size": 1, "refill_time": 1}}}""", "Rate limiters are not supported by lguest.")]
    [TestCase("""{"drive_id": "d", "path_on_host": "/etc/hostname", "is_root_device": false, "io_engine": "Turbo"}""", "Unknown io_engine 'Turbo': expected Sync or Async.")]
    [TestCase("""{"drive_id": "d", "path_on_host": "/etc/hostname", "is_root_device": false, "cache_type": "Fast"}""", "Unknown cache_type 'Fast': expected Unsafe or Writeback.")]
    [TestCase("""{"drive_id": "d", "socket": "/tmp/vhost", "is_root_device": false}""", "vhost-user drives are not supported by lguest.")]
    public async Task A_drive_lguest_cannot_give_is_refused(string body, string fault) =>
        Assert.That(await Fault("PUT", "/drives/d", body), Is.EqualTo(fault));

    [TestCase("""{"iface_id": "n", "host_dev_name": "lguest-no-such"}""", "Open tap device failed: no network interface 'lguest-no-such' on the host.")]
    [TestCase("""{"iface_id": "n", "host_dev_name": "lo", "guest_mac": "01:00:00:00:00:01"}""", "The guest_mac '01:00:00:00:00:01' is not a unicast MAC address.")]
    [TestCase("""{"iface_id": "n", "host_dev_name": "a/b"}""", "The host_dev_name 'a/b' is not an interface name of 1 to 15 characters.")]
    [TestCase("""{"iface_id": "n", "host_dev_name": "lo", "rx_rate_limiter": {}}""", "Rate limiters are not supported by lguest.")]
    public async Task A_network_interface_lguest_cannot_give_is_refused(string body, string fault) =>
        Assert.That(await Fault("PUT", "/network-interfaces/n", body), Is.EqualTo(fault));

    [TestCase("""{"vcpu_count": 0, "mem_size_mib": 128}""", "The vCPU number is invalid!")]
    [TestCase("""{"vcpu_count": 33, "mem_size_mib": 128}""", "The vCPU number is invalid!")]
    [TestCase("""{"vcpu_count": 1, "mem_size_mib": 1}""", "The memory size (MiB) is invalid")]
    [TestCase("""{"vcpu_count": 2, "mem_size_mib": 128, "smt": true}""", "Enabling simultaneous multithreading is not supported by lguest.")]
    [TestCase("""{"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "T2"}""", "CPU templates are not supported by lguest")]
    [TestCase("""{"vcpu_count": 1, "mem_size_mib": 128, "track_dirty_pages": true}""", "Dirty page tracking is not supported by lguest.")]
    [TestCase("""{"vcpu_count": 1}""", "missing field `mem_size_mib`")]
    public async Task A_machine_config_lguest_cannot_give_is_refused(string body, string fault) =>
        Assert.That(await Fault("PUT", "/machine-config", body), Does.Contain(fault));

    [TestCase("""{"guest_cid": 2, "uds_path": "/tmp/v.sock"}""", "The guest CID 2 is invalid: it must be from 3 to 4294967294.")]
    [TestCase("""{"guest_cid": 3, "uds_path": "/nonexistent/v.sock"}""", "The vsock's uds_path folder '/nonexistent' does not exist.")]
    [TestCase("""{"guest_cid": -1, "uds_path": "/tmp/v.sock"}""", "invalid type at $.guest_cid")]
    public async Task A_vsock_lguest_cannot_give_is_refused(string body, string fault) =>
        Assert.That(await Fault("PUT", "/vsock", body), Does.EndWith(fault).Or.EndWith(fault + "."));

    [TestCase("""{"action_type": "InstanceStart"}""", "Cannot start microvm without kernel configuration.")]
    [TestCase("""{"action_type": "SendCtrlAltDel"}""", "The requested operation is not supported before starting the microVM.")]
    [TestCase("""{"action_type": "FlushMetrics"}""", "lguest keeps no metrics to flush.")]
    [TestCase("""{"action_type": "Reboot"}""", "unknown action_type 'Reboot', expected one of FlushMetrics, InstanceStart, SendCtrlAltDel.")]
    public async Task An_action_the_machine_cannot_take_now_is_refused(string body, string fault) =>
        Assert.That(await Fault("PUT", "/actions", body), Does.EndWith(fault));

    [TestCase("""{"state": "Paused"}""", "The requested operation is not supported before starting the microVM.")]
    [TestCase("""{"state": "Resumed"}""", "The requested operation is not supported before starting the microVM.")]
    [TestCase("""{"state": "Sleeping"}""", "unknown state 'Sleeping', expected Paused or Resumed.")]
    public async Task Pausing_or_resuming_before_the_start_is_refused(string body, string fault) =>
        Assert.That(await Fault("PATCH", "/vm", body), Does.EndWith(fault));

    [Test]
    public async Task Bytes_that_are_not_utf8_are_refused()
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        var request = new HttpRequestMessage(HttpMethod.Put, "boot-source") { Content = new ByteArrayContent([0x7b, 0xff, 0xfe, 0x7d]) };
        Assert.That(await ApiTestServer.ExpectFault(api.Client.SendAsync(request)), Does.StartWith(Deserializing));
    }
}
