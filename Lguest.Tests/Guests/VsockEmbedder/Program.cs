using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Lguest.Devices;
using Lguest.Machine;
using Microsoft.Extensions.DependencyInjection;

// VsockEmbedder KERNEL INITRD APPEND [MIB]: boots the guest image with a vsock device (CID 3) and plays the host's
// part of its vsock scenario (scenarios/vsock) through VsockHost, in this process: MIB MiB (default 64) each way
// on a connection it opens to guest port 5001 and on one the guest opens to host port 6001, MD5 of both sides;
// then connections cut by the guest's power-off (reading from 5003, writing to 5004, reading what the guest sends
// to host port 6002). Prints, besides the guest's console:
//   BED-VSOCK-NET-<H2G|G2H>-SENT <md5> <bytes>
//   BED-VSOCK-NET-<H2G|G2H>-RECEIVED <md5> <bytes> <seconds>
//   BED-VSOCK-NET-CUT <read|write|accepted> <eof|reset|...> <bytes>
//   BED-VSOCK-NET-EXIT <how the guest ended>
if (args.Length is < 3 or > 4)
{
    Console.Error.WriteLine("usage: VsockEmbedder KERNEL INITRD APPEND [MIB]");
    return 2;
}
int mib = args.Length == 4 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 64;
Stream stdout = Console.OpenStandardOutput();
var services = new ServiceCollection();
services.AddKvm();
services.AddKernel(args[0], args[1], args[2]);
services.AddVirtioVsock(o => o.GuestCid = 3);
services.AddLguest(o =>
{
    o.MemoryBytes = 256UL << 20;
    o.ConsoleOutput = stdout;
});
using ServiceProvider provider = services.BuildServiceProvider();
Launcher launcher = provider.GetRequiredService<Launcher>();
VsockHost vsock = provider.GetRequiredService<VsockHost>();
Task<GuestExit> run = launcher.RunAsync();

byte[] block = RandomNumberGenerator.GetBytes(4 << 20);
using VsockListener g2hListener = vsock.Listen(6001);
using VsockListener cutListener = vsock.Listen(6002);
Task g2h = Task.Run(async () =>
{
    using VsockStream stream = await g2hListener.AcceptAsync();
    await Exchange("G2H", stream);
});
using (VsockStream h2g = await Connect(5001))
    await Exchange("H2G", h2g);
await g2h;

// Connections the guest's power-off cuts: each must end (end of stream or a reset), none may hang.
VsockStream source = await Connect(5003);
VsockStream sink = await Connect(5004);
Task<string> reading = ReadToEnd(source);
Task<string> writing = WriteUntilRefused(sink);
Task<string> accepted = Task.Run(async () => await ReadToEnd(await cutListener.AcceptAsync()));
await Task.Delay(2000);
(await Connect(5999)).Dispose(); // the guest's go: it powers off in the middle of these
foreach ((string name, Task<string> cut) in new[] { ("read", reading), ("write", writing), ("accepted", accepted) })
{
    string outcome = await cut.WaitAsync(TimeSpan.FromSeconds(120)).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : "hung", TaskScheduler.Default);
    Say($"BED-VSOCK-NET-CUT {name} {outcome}");
}
GuestExit exit = await run.WaitAsync(TimeSpan.FromSeconds(120));
Say($"BED-VSOCK-NET-EXIT {exit.Kind}");
return 0;

// Connects to a guest port, retrying while the guest's driver or its listener is not up yet.
async Task<VsockStream> Connect(uint port)
{
    var clock = Stopwatch.StartNew();
    while (true)
    {
        try
        {
            return await vsock.ConnectAsync(port);
        }
        catch (SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(180))
        {
            await Task.Delay(200);
        }
    }
}

// Sends MIB MiB while taking what comes back, both hashed on the fly; the end of the sending side is a half-close.
async Task Exchange(string name, VsockStream stream)
{
    var clock = Stopwatch.StartNew();
    Task<(string, long)> received = Task.Run(async () =>
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        byte[] buffer = new byte[256 * 1024];
        long total = 0;
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            md5.AppendData(buffer, 0, n);
            total += n;
        }
        return (Convert.ToHexStringLower(md5.GetHashAndReset()), total);
    });
    using (var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5))
    {
        for (int i = 0; i < mib / 4; i++)
        {
            await stream.WriteAsync(block);
            md5.AppendData(block);
        }
        await stream.Output.CompleteAsync();
        Say($"BED-VSOCK-NET-{name}-SENT {Convert.ToHexStringLower(md5.GetHashAndReset())} {(long)(mib / 4) * block.Length}");
    }
    (string digest, long bytes) = await received;
    Say(string.Create(CultureInfo.InvariantCulture, $"BED-VSOCK-NET-{name}-RECEIVED {digest} {bytes} {clock.Elapsed.TotalSeconds:F2}"));
}

static async Task<string> ReadToEnd(VsockStream stream)
{
    byte[] buffer = new byte[64 * 1024];
    long total = 0;
    try
    {
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
            total += n;
        return $"eof {total}";
    }
    catch (IOException)
    {
        return $"reset {total}";
    }
}

static async Task<string> WriteUntilRefused(VsockStream stream)
{
    byte[] buffer = new byte[64 * 1024];
    long total = 0;
    try
    {
        while (true)
        {
            await stream.WriteAsync(buffer);
            total += buffer.Length;
        }
    }
    catch (IOException)
    {
        return $"reset {total}";
    }
}

// One whole line per write: the guest's console shares stdout.
void Say(string line)
{
    byte[] bytes = Encoding.ASCII.GetBytes(line + "\n");
    lock (stdout)
        stdout.Write(bytes);
}
