using Lguest.Fuzz;
using Lguest.Fuzz.Targets;

// lguest fuzz targets (fuzz/run.sh is the usual way in):
//   Lguest.Fuzz TARGET               under fuzz/driver/lguest-libfuzzer: serve libFuzzer's inputs to TARGET
//   Lguest.Fuzz TARGET FILE...       run each file once through TARGET (reproduce a crash; exit 1 if one crashes)
//   Lguest.Fuzz --seeds TARGET DIR   write TARGET's hand-made seed inputs into DIR
//   Lguest.Fuzz --max-len TARGET     print the longest input worth trying for TARGET
//   Lguest.Fuzz --explain TARGET FILE...  say for each file whether TARGET accepted or refused it, and why
// The instrumented assemblies count edges into SharpFuzz's map from their first instruction on, but the map is
// only set up by Fuzzer.LibFuzzer.Run: until then (creating the target, seeds, replays) they count into a scratch one.
unsafe
{
    SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 16);
}

if (args.Length == 0)
{
    Console.Error.WriteLine($"usage: Lguest.Fuzz TARGET [FILE...] | --seeds TARGET DIR | --max-len TARGET | --explain TARGET FILE...; targets: {string.Join(", ", FuzzTargets.Names)}");
    return 2;
}
if (args[0] == "--max-len" && args.Length == 2)
{
    using var sized = FuzzTargets.Create(args[1]) as IDisposable;
    Console.WriteLine(((FuzzTarget)sized!).MaxInputLength);
    return 0;
}

bool explain = args[0] == "--explain";
FuzzTarget target = FuzzTargets.Create(args[0] is "--seeds" or "--explain" ? args[1] : args[0]);
try
{
    if (target is VirtioNetTransmitTarget net && Environment.GetEnvironmentVariable("LGUEST_FUZZ_TAP_UP") == "1")
        net.BringUp();
    if (args[0] == "--seeds")
    {
        Directory.CreateDirectory(args[2]);
        foreach ((string name, byte[] bytes) in target.Seeds())
            File.WriteAllBytes(Path.Combine(args[2], "seed-" + name), bytes);
        return 0;
    }
    if (Environment.GetEnvironmentVariable("__LIBFUZZER_SHM_ID") is not null)
    {
        unsafe
        {
            byte* scratch = SharpFuzz.Common.Trace.SharedMem;
            SharpFuzz.Fuzzer.LibFuzzer.Run(target.Execute);
            // Run detached libFuzzer's map when it returned (after a crash): disposing the target must not count into it.
            SharpFuzz.Common.Trace.SharedMem = scratch;
        }
        return 0;
    }
    int crashes = 0;
    foreach (string file in args.Skip(explain ? 2 : 1))
    {
        try
        {
            if (explain)
                Console.WriteLine($"{Path.GetFileName(file)}: {target.Explain(File.ReadAllBytes(file))}");
            else
                target.Execute(File.ReadAllBytes(file));
        }
        catch (Exception e)
        {
            crashes++;
            Console.Error.WriteLine($"{file}: {e}");
        }
    }
    return crashes == 0 ? 0 : 1;
}
finally
{
    (target as IDisposable)?.Dispose();
}
