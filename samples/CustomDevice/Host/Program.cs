// CustomDeviceHost: boots KERNEL and INITRD with one device, CustomDevice's ChosenEntropyDevice, fed with a phrase
// repeated; the guest image's hwrng scenario reads /dev/hwrng through Linux's own virtio_rng driver and prints the
// bytes in hex (GUEST-HWRNG <rng> <hex>). Exit status 0 when those are the phrase's bytes, 1 when not, 2 usage,
// 3 no host to run guests on, 4 the machine could not be built (a kernel or initrd missing or not loadable).
//
//   dotnet run -- KERNEL INITRD [--timeout SECONDS]
using System.Text;
using CustomDevice;
using Lguest;
using Lguest.Hypervisor;
using Lguest.Machine;
using Lguest.Terminal;
using Microsoft.Extensions.DependencyInjection;

if (args.Length is not (2 or 4) || (args.Length == 4 && (args[2] != "--timeout" || !int.TryParse(args[3], out _))))
{
    Console.Error.WriteLine("usage: CustomDeviceHost KERNEL INITRD [--timeout SECONDS]");
    return 2;
}
TimeSpan timeout = TimeSpan.FromSeconds(args.Length == 4 ? int.Parse(args[3]) : 300);

// The bytes the embedder chose: a phrase, repeated without end, from wherever the last request stopped.
byte[] phrase = Encoding.ASCII.GetBytes("chosen by the embedder. ");
long position = 0;
void Fill(Span<byte> span)
{
    for (int i = 0; i < span.Length; i++)
        span[i] = phrase[(int)(position++ % phrase.Length)];
}

using var console = new ConsoleCapture(echo: Console.OpenStandardOutput());
using ServiceProvider provider = new ServiceCollection()
    .AddLguest(o => { o.MemoryBytes = 256UL << 20; o.ConsoleOutput = console.Output; })
    .AddKvm()
    .AddKernel(args[0], args[1], "console=ttyS0 quiet lguest.scenario=hwrng")
    .AddChosenEntropy(Fill)
    .BuildServiceProvider();
Launcher launcher = provider.GetRequiredService<Launcher>();

string? line = null;
try
{
    await launcher.RunUntilAsync(console, l => (line = l.StartsWith("GUEST-HWRNG ", StringComparison.Ordinal) ? l : line) is not null, timeout);
}
catch (HostUnavailableException e)
{
    Console.Error.WriteLine($"customdevicehost: this host cannot run guests ({e.Reason}): {e.Message}");
    return 3;
}
catch (LguestException e)
{
    Console.Error.WriteLine($"customdevicehost: {e.Message}");
    return 4;
}
if (line?.Split(' ') is not [_, string rng, string hex] || hex.Length == 0 || hex.Length % 2 != 0)
{
    Console.WriteLine($"CUSTOM-DEVICE-FAILED the guest printed no GUEST-HWRNG line with bytes ({line ?? "none"})");
    return 1;
}
// The guest's read may start anywhere in the phrase (Linux's hwrng core takes some bytes first to seed its pool):
// every byte must follow its predecessor in the phrase.
byte[] read = Convert.FromHexString(hex);
bool ours = Enumerable.Range(0, phrase.Length).Any(start => Enumerable.Range(0, read.Length).All(i => read[i] == phrase[(start + i) % phrase.Length]))
    && read.Length >= phrase.Length && Encoding.ASCII.GetString(read).Contains("embedder", StringComparison.Ordinal);
Console.WriteLine(ours
    ? $"CUSTOM-DEVICE-OK {rng} read {read.Length} bytes of the chosen phrase: \"{Encoding.ASCII.GetString(read)}\""
    : $"CUSTOM-DEVICE-FAILED {rng} read bytes that are not the phrase: {hex}");
return ours ? 0 : 1;
