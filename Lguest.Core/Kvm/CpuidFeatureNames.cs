using System.Collections.Frozen;

namespace Lguest.Kvm;

/// <summary>
/// The names Linux's /proc/cpuinfo gives CPUID feature bits (arch/x86/include/asm/cpufeatures.h, the Intel SDM
/// Vol. 2A tables, AMD APM Vol. 3 appendix E), for a refusal that names what a host lacks. A bit without a name
/// here is named by its position.
/// </summary>
internal static class CpuidFeatureNames
{
    private static readonly FrozenDictionary<(uint Leaf, uint Subleaf, CpuidRegister Register, int Bit), string> Names = Build();

    /// <summary>The bit's name ("avx2"), or its position ("CPUID.(EAX=0x7,ECX=0):EBX[5]").</summary>
    public static string Describe(uint leaf, uint subleaf, CpuidRegister register, int bit) =>
        Names.TryGetValue((leaf, subleaf, register, bit), out string? name)
            ? $"{name} (CPUID.(EAX=0x{leaf:x},ECX={subleaf}):{register.ToString().ToUpperInvariant()}[{bit}])"
            : $"CPUID.(EAX=0x{leaf:x},ECX={subleaf}):{register.ToString().ToUpperInvariant()}[{bit}]";

    /// <summary>The XSAVE state component's name ("AVX"), or its number.</summary>
    public static string DescribeXsaveComponent(int component) => component switch
    {
        0 => "x87",
        1 => "SSE",
        2 => "AVX",
        3 => "MPX BNDREGS",
        4 => "MPX BNDCSR",
        5 => "AVX-512 opmask",
        6 => "AVX-512 ZMM_Hi256",
        7 => "AVX-512 Hi16_ZMM",
        9 => "PKRU",
        17 => "AMX XTILECFG",
        18 => "AMX XTILEDATA",
        _ => $"XSAVE component {component}",
    };

    private static FrozenDictionary<(uint, uint, CpuidRegister, int), string> Build()
    {
        var names = new Dictionary<(uint, uint, CpuidRegister, int), string>();
        void Add(uint leaf, uint subleaf, CpuidRegister register, params (int Bit, string Name)[] bits)
        {
            foreach ((int bit, string name) in bits)
                names[(leaf, subleaf, register, bit)] = name;
        }
        Add(1, 0, CpuidRegister.Edx, (0, "fpu"), (1, "vme"), (2, "de"), (3, "pse"), (4, "tsc"), (5, "msr"), (6, "pae"), (7, "mce"),
            (8, "cx8"), (9, "apic"), (11, "sep"), (12, "mtrr"), (13, "pge"), (14, "mca"), (15, "cmov"), (16, "pat"), (17, "pse36"),
            (19, "clflush"), (23, "mmx"), (24, "fxsr"), (25, "sse"), (26, "sse2"), (27, "ss"), (28, "ht"));
        Add(1, 0, CpuidRegister.Ecx, (0, "pni"), (1, "pclmulqdq"), (3, "monitor"), (9, "ssse3"), (12, "fma"), (13, "cx16"), (15, "pdcm"),
            (17, "pcid"), (19, "sse4_1"), (20, "sse4_2"), (21, "x2apic"), (22, "movbe"), (23, "popcnt"), (24, "tsc_deadline_timer"),
            (25, "aes"), (26, "xsave"), (28, "avx"), (29, "f16c"), (30, "rdrand"), (31, "hypervisor"));
        Add(7, 0, CpuidRegister.Ebx, (0, "fsgsbase"), (1, "tsc_adjust"), (3, "bmi1"), (4, "hle"), (5, "avx2"), (7, "smep"), (8, "bmi2"),
            (9, "erms"), (10, "invpcid"), (11, "rtm"), (14, "mpx"), (16, "avx512f"), (17, "avx512dq"), (18, "rdseed"), (19, "adx"),
            (20, "smap"), (21, "avx512ifma"), (23, "clflushopt"), (24, "clwb"), (26, "avx512pf"), (27, "avx512er"), (28, "avx512cd"),
            (29, "sha_ni"), (30, "avx512bw"), (31, "avx512vl"));
        Add(7, 0, CpuidRegister.Ecx, (1, "avx512vbmi"), (2, "umip"), (3, "pku"), (5, "waitpkg"), (6, "avx512_vbmi2"), (8, "gfni"),
            (9, "vaes"), (10, "vpclmulqdq"), (11, "avx512_vnni"), (12, "avx512_bitalg"), (14, "avx512_vpopcntdq"), (16, "la57"),
            (22, "rdpid"), (25, "cldemote"), (27, "movdiri"), (28, "movdir64b"));
        Add(7, 0, CpuidRegister.Edx, (2, "avx512_4vnniw"), (3, "avx512_4fmaps"), (4, "fsrm"), (8, "avx512_vp2intersect"), (10, "md_clear"),
            (14, "serialize"), (16, "tsxldtrk"), (22, "amx_bf16"), (23, "avx512_fp16"), (24, "amx_tile"), (25, "amx_int8"),
            (26, "spec_ctrl"), (27, "intel_stibp"), (28, "flush_l1d"), (29, "arch_capabilities"), (31, "spec_ctrl_ssbd"));
        Add(7, 1, CpuidRegister.Eax, (4, "avx_vnni"), (5, "avx512_bf16"), (10, "fzrm"), (11, "fsrs"), (12, "fsrc"));
        Add(0xD, 1, CpuidRegister.Eax, (0, "xsaveopt"), (1, "xsavec"), (2, "xgetbv1"), (3, "xsaves"));
        Add(0x8000_0001, 0, CpuidRegister.Ecx, (0, "lahf_lm"), (1, "cmp_legacy"), (2, "svm"), (4, "cr8_legacy"), (5, "abm"), (6, "sse4a"),
            (7, "misalignsse"), (8, "3dnowprefetch"), (11, "xop"), (16, "fma4"), (21, "tbm"), (22, "topoext"), (29, "mwaitx"));
        Add(0x8000_0001, 0, CpuidRegister.Edx, (11, "syscall"), (20, "nx"), (22, "mmxext"), (25, "fxsr_opt"), (26, "pdpe1gb"),
            (27, "rdtscp"), (29, "lm"));
        Add(0x8000_0007, 0, CpuidRegister.Edx, (8, "constant_tsc"));
        Add(0x8000_0008, 0, CpuidRegister.Ebx, (0, "clzero"), (4, "rdpru"), (9, "wbnoinvd"), (12, "amd_ibpb"), (14, "amd_ibrs"),
            (15, "amd_stibp"), (24, "amd_ssbd"), (25, "virt_ssbd"), (26, "amd_ssb_no"));
        Add(0x4000_0001, 0, CpuidRegister.Eax, (0, "kvmclock"), (1, "nopiodelay"), (3, "kvmclock2"), (4, "async_pf"), (5, "steal_time"),
            (6, "pv_eoi"), (7, "pv_unhalt"), (9, "pv_tlb_flush"), (10, "async_pf_vmexit"), (11, "pv_send_ipi"), (12, "poll_control"),
            (13, "pv_sched_yield"), (14, "async_pf_int"), (15, "msi_ext_dest_id"), (24, "kvmclock_stable"));
        return names.ToFrozenDictionary();
    }
}
